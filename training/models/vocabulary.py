"""``python -m training.models.vocabulary RUN_MODEL_DIR``: the token ids a run's training data uses -> ``kept_tokens.json``.

The bot trims a pretrained base's vocabulary to these ids when it loads adapters over it
(``bot/generation/adapted.py``): Gemma's 262k-token output layer dominates the cost of a generated
token, and Russian chat uses a fraction of it. ``training.train`` writes the file for runs on a
registered base; this command writes it for a run made before it did.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from pathlib import Path

from bot.generation.adapted import is_adapter_dir, read_kept_tokens, write_kept_tokens


def used_token_ids(splits: Iterable) -> set[int]:  # noqa: ANN001 (tokenized datasets)
    """Every id in the ``input_ids`` of the tokenized ``splits`` (prompts, replies, EOS)."""
    used: set[int] = set()
    for split in splits:
        for batch in split.select_columns(["input_ids"]).iter(batch_size=10_000):
            for ids in batch["input_ids"]:
                used.update(ids)
    return used


def earlier_stage_token_ids(base_model: str) -> set[int]:
    """The kept tokens of the model a later stage started from (``base_model`` an adapter directory): what the
    earlier stages taught stays writable. Empty for any other start."""
    return set(read_kept_tokens(Path(base_model)) or ()) if is_adapter_dir(Path(base_model)) else set()


def used_token_ids_of_run(model_dir: Path, data_dir: Path) -> set[int]:
    """The train and validation splits of the run's experiment, rebuilt and tokenized as training did."""
    from transformers import AutoTokenizer

    from dialogue.format import FormatSpec
    from training.data import features
    from training.models.checkpoints import load_experiment
    from training.data.dataset import load_dataset_dict, to_model_inputs
    from training.data.hypotheses import HYPOTHESES

    config, spec = load_experiment(model_dir), FormatSpec.load(model_dir)
    hypothesis = HYPOTHESES[config.hypothesis]
    data = load_dataset_dict(hypothesis, data_dir, cache_dir=Path(model_dir).parent / "cache", **config.data_options())
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    texts = to_model_inputs(data, spec, hypothesis, tokenizer, seed=config.seed)
    used = used_token_ids(features.tokenize_split(texts[name], tokenizer, spec, desc=f"tokenize {name}")
                          for name in ("train", "validation"))
    return used | earlier_stage_token_ids(config.base_model)


def main(argv: list[str] | None = None) -> int:
    from training import DEFAULT_DATA_DIR

    parser = argparse.ArgumentParser(prog="python -m training.models.vocabulary", description=__doc__.split("\n")[0])
    parser.add_argument("model_dir", type=Path, help="a run's model directory (runs/X/model)")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR)))
    args = parser.parse_args(argv)
    used = used_token_ids_of_run(args.model_dir, args.data_dir)
    path = write_kept_tokens(args.model_dir, used)
    print(f"{len(used)} token ids used by the training data -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
