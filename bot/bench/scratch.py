"""A randomly initialised T5 of the project's default size, for figures before a model is trained.

Sizes are the training ``scratch`` defaults (d_model 256, 4 + 4 layers, d_ff 1024, vocabulary
8000). The tokenizer is trained on the persona facts of the real data when they are at hand
(realistic token counts), else on the benchmark's own prompts; the vocabulary of the model is
8000 either way, so the output layer costs what a trained model's does.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from bot.bench.prompts import corpus
from bot.config import PROJECT_ROOT
from dialogue.format import FormatSpec

SIZES = ("small",)
PROFILES = Path("ru_persona_chat") / "profiles.tsv"


def build_scratch_model(out_dir: Path, size: str = "small") -> Path:
    """Write a random-init model directory (weights, tokenizer, ``dialogue_format.json``)."""
    if size not in SIZES:
        raise ValueError(f"scratch size must be one of {', '.join(SIZES)}, got {size!r}")
    from training.experiments.config import ScratchModelConfig
    from training.models.scratch import save_random_model

    sizes = ScratchModelConfig()
    spec = FormatSpec(
        name="godel",
        max_fact_tokens=32,
        max_utterance_tokens=48,
        max_history_turns=6,
        max_persona_facts=5,
        max_source_tokens=256,
        max_target_tokens=48,
        extra={"built_by": f"bot/bench/scratch.py ({size}, random weights)"},
    )
    return save_random_model(out_dir, corpus() + _persona_facts(), sizes, spec, pad_vocab_to=sizes.vocab_size)


def _persona_facts() -> list[str]:
    path = Path(os.environ.get("DATA_DIR", PROJECT_ROOT.parent / "shared" / "data")) / PROFILES
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as stream:
        return [value for row in csv.DictReader(stream, delimiter="\t") for key, value in row.items() if value and key]
