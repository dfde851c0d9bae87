"""``python -m training.evaluation.decoding MODEL_DIR``: the decoding presets compared on the validation split.

    python -m training.evaluation.decoding runs/ru_mix_cpu/model --limit 300

Every preset of ``training.evaluation.predict.DECODING_PRESETS`` generates replies to the same validation
rows (main source only, as the test split), scored by the same metric code as
``training.evaluation.evaluate``. The table goes to ``decoding.md`` and ``decoding.json`` in the model
directory (the model card shows it) and is printed with the bot settings of the best preset:
the best mean rank on F1 and chrF++ (the metrics the model is judged by against the
baselines), measured here rather than chosen by taste, and never on test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import DECODING_FILE
from bot.generation.errors import ModelLoadError
from training.evaluation import predict
from training.models.checkpoints import load_experiment
from training.evaluation.evaluate import generate_replies, load_split, model_decoding, run_cache, score
from training.experiments.config import ConfigError
from training.evaluation.report import decoding_table
from training import DEFAULT_DATA_DIR
from training.data.sources import DataFormatError

DECODING_JSON = "decoding.json"
DECODING_MD = "decoding.md"
SELECTION_METRICS = ("f1", "chrf")


def compare_decodings(backend, rows, language: str, presets: Sequence[str] = tuple(predict.DECODING_PRESETS), *,
                      batch_size: int = 16) -> list[dict]:
    """One result per preset: its metrics on ``rows`` and the generate() arguments used."""
    results = []
    for name in presets:
        settings = model_decoding(backend, name)
        replies, seconds = generate_replies(backend, rows, settings, batch_size=batch_size)
        results.append(score(replies, rows, language, preset=name, decoding=settings.describe(),
                             seconds_per_reply=seconds, example_reply=replies[0] if replies else ""))
        print(f"{name}: chrF++ {results[-1]['chrf']:.2f}, F1 {results[-1]['f1']:.4f}, {seconds:.3f} s/reply", flush=True)
    return results


def best_preset(results: Sequence[dict]) -> str:
    """The best mean rank on the headline metrics (F1, chrF++); ties go to the more diverse (distinct-2)."""
    def rank(result: dict, metric: str) -> int:  # 1 = best; equal values share a rank
        return 1 + sum(other[metric] > result[metric] for other in results)

    return min(results, key=lambda r: (sum(rank(r, m) for m in SELECTION_METRICS), -r["distinct_2"]))["preset"]


def write_comparison(model_dir: Path, results: Sequence[dict], *, examples: int) -> str:
    best = best_preset(results)
    text = "\n".join([
        "# Decoding on the validation split", "",
        f"{examples} validation examples (main source, a fixed random subset), the same metric code as the test "
        f"evaluation; sampling seeded with torch.manual_seed({predict.SAMPLING_SEED}). Best (mean rank on F1 and "
        f"chrF++): **{best}**. The bot serves a model with the decoding its test evaluation used (its "
        f"`{DECODING_FILE}`): `python -m training.evaluate {model_dir} --decoding {best}` makes it this one.", "",
        decoding_table(results, best), "",
    ])
    (model_dir / DECODING_MD).write_text(text, encoding="utf-8")
    payload = {"split": "validation", "examples": examples, "seed": predict.SAMPLING_SEED, "best": best,
               "results": list(results)}
    (model_dir / DECODING_JSON).write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluation.decoding", description=__doc__.split("\n")[0])
    parser.add_argument("model_dir", type=Path, help="a model directory written by training.run")
    parser.add_argument("--limit", type=int, default=300, help="validation examples (a fixed random subset)")
    parser.add_argument("--presets", nargs="+", choices=predict.DECODING_PRESETS, default=list(predict.DECODING_PRESETS))
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR)))
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--torch-threads", type=int, default=int(os.environ.get("TORCH_THREADS", 0)))
    args = parser.parse_args(argv)
    if args.limit < 1:
        parser.error("--limit must be >= 1")
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    try:
        config = load_experiment(args.model_dir)
        hypothesis, _, rows = load_split(config, args.data_dir, args.limit, split="validation",
                                         cache_dir=run_cache(args.model_dir))
        backend = predict.load_backend(args.model_dir)
        results = compare_decodings(backend, rows, hypothesis.language, args.presets, batch_size=args.batch_size)
    except (ConfigError, FileNotFoundError, ModelLoadError, DataFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(write_comparison(args.model_dir, results, examples=len(rows)))
    print(f"written: {args.model_dir / DECODING_MD}, {args.model_dir / DECODING_JSON}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
