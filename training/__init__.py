"""The research behind the bot's model, as a pipeline: data -> model -> train -> evaluate.

    python -m training.run ru_mix            train a registered experiment (``--list`` shows them)
    python -m training.evaluate MODEL_DIR    test metrics, baselines, the model card
    python -m training.compare DIR...        experiments side by side
    python -m training.data                  what the data sets hold, per source and split

Where things live (a new module goes into the room of its stage):

    data/         sources (readers of the published files), hypotheses (samples per h1-h5), splits,
                  length limits, tokenised features, denoising; ``python -m training.data``
    experiments/  the experiment config (frozen dataclasses), the registry of presets, CLI overrides
    models/       scratch models and tokenizers, the pretrained base, checkpoints, export, vocabulary
                  trimming, the reply-only loss
    train.py      the training loop (Trainer set-up), called by run.py
    evaluation/   metrics, prediction, evaluation, decoding comparison, baselines, comparison, reports,
                  model card, conversation checks (persona probes, repetition)
    probes/       research probes: can the model copy (copy_probe), does it use its input (input_use)

Nothing here imports in a circle (tests/test_layout.py checks it): data and experiments import nothing
above them; models import those (export also renders the model card of evaluation/); train.py imports
data and models and writes the card; evaluation imports data, experiments and models, never train or run.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"
"""The real data sets beside the project (``DATA_DIR`` overrides it)."""
