"""``python -m training.evaluation.selection MODEL_DIR``: reply selection against the plain reply, on the same rows.

    python -m training.evaluation.selection models/ru-persona-gemma --split validation --limit 200
    python -m training.evaluation.selection models/ru-persona-gemma --split test --limit 200 \\
        --sizes 4 --weights 0.5 --penalties 1

Every row gets the bot's plain reply (the model's decoding preset, greedy by default) and ``max(--sizes)``
sampled candidates, drawn once (seeded) and scored once with and without the persona
(``bot.generation.selection``, the bot's own code). Each setting of N (the first N draws), λ and the
penalty then only re-ranks them, so the whole grid costs one generation. Metrics are the test
evaluation's (``training.evaluation.evaluate.score``). The best setting (mean rank on F1, chrF++ and
persona usage) is printed with its ``.env`` lines; the table goes to ``selection-<split>.md`` and
``.json`` beside the model (or ``--out-dir``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from bot.config import SelectionSettings
from bot.generation.errors import ModelLoadError
from bot.generation.selection import draw_candidates
from bot.generation.turns import Turn
from training import DEFAULT_DATA_DIR
from training.data.sources import DataFormatError
from training.evaluation import predict
from training.evaluation.evaluate import generate_replies, load_split, model_decoding, run_cache, score
from training.evaluation.report import format_value
from training.experiments.config import ConfigError
from training.models.checkpoints import load_experiment

SELECTION_METRICS = ("f1", "chrf", "persona_usage")
COLUMNS = ("f1", "chrf", "distinct_1", "distinct_2", "persona_usage", "avg_reply_words")


def compare_selection(backend, rows, language: str, *, sizes, weights, penalties, consensus_weights=(0.0,),
                      batch_size: int = 4) -> dict:
    """The plain reply and every (N, λ, penalty, μ) on ``rows``: their metrics."""
    decoding = model_decoding(backend, predict.DEFAULT_PRESET)
    plain, seconds_plain = generate_replies(backend, rows, decoding, batch_size=16)
    results = [score(plain, rows, language, setting="plain", seconds_per_reply=seconds_plain)]
    personas, contexts = list(rows["persona"]), list(rows["context"])
    torch.manual_seed(predict.SAMPLING_SEED)
    drawn, started = [], time.perf_counter()
    for start in tqdm(range(0, len(rows), batch_size), desc=f"candidates x{max(sizes)}", unit="batch"):
        stop = start + batch_size
        turns = [Turn(tuple(p), tuple(c)) for p, c in zip(personas[start:stop], contexts[start:stop], strict=True)]
        drawn += draw_candidates(backend, turns, decoding, max(sizes))
    seconds = (time.perf_counter() - started) / max(len(rows), 1)
    for n, weight, penalty, mu in itertools.product(sizes, weights, penalties, consensus_weights):
        settings = SelectionSettings(n, weight, penalty, mu)
        chosen = [(d.ranked(context, settings, n) or [None])[0] for d, context in zip(drawn, contexts)]
        replies = [c.text if c else "" for c in chosen]
        results.append(score(replies, rows, language, setting=f"N{n} λ{weight:g} p{penalty:g} μ{mu:g}", candidates=n,
                             persona_weight=weight, repeat_penalty=penalty, consensus_weight=mu,
                             seconds_per_reply=seconds * n / max(sizes)))
    return {"results": results, "best": best_setting(results[1:])}


def best_setting(results: list[dict]) -> str:
    """The best mean rank on F1, chrF++ and persona usage; ties go to the more diverse (distinct-2)."""
    def rank(result: dict, metric: str) -> int:
        return 1 + sum(other[metric] > result[metric] for other in results)

    return min(results, key=lambda r: (sum(rank(r, m) for m in SELECTION_METRICS), -r["distinct_2"]))["setting"]


def table(comparison: dict) -> str:
    lines = ["| setting | " + " | ".join(COLUMNS) + " | s / reply |", "|---|" + "---|" * (len(COLUMNS) + 1)]
    for r in comparison["results"]:
        name = f"**{r['setting']}**" if r["setting"] == comparison["best"] else r["setting"]
        values = [format_value(r.get(c, "—")) for c in (*COLUMNS, "seconds_per_reply")]
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluation.selection", description=__doc__.split("\n")[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--split", choices=("validation", "test"), default="validation")
    parser.add_argument("--limit", type=int, default=200, help="rows (a fixed random subset)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 8], help="candidates per reply (N)")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.25, 0.5, 1.0], help="λ")
    parser.add_argument("--penalties", type=float, nargs="+", default=[0.0, 1.0])
    parser.add_argument("--consensus-weights", type=float, nargs="+", default=[0.0],
                        help="μ, the weight of agreement with the other candidates (minimum Bayes risk)")
    parser.add_argument("--batch-size", type=int, default=4, help="requests per generate call")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR)))
    parser.add_argument("--out-dir", type=Path, help="default: the model directory")
    parser.add_argument("--torch-threads", type=int, default=int(os.environ.get("TORCH_THREADS", 0)))
    args = parser.parse_args(argv)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    try:
        config = load_experiment(args.model_dir)
        hypothesis, _, rows = load_split(config, args.data_dir, args.limit, split=args.split,
                                         cache_dir=run_cache(args.model_dir))
        backend = predict.load_backend(args.model_dir)
        comparison = compare_selection(backend, rows, hypothesis.language, sizes=args.sizes, weights=args.weights,
                                       penalties=args.penalties, consensus_weights=args.consensus_weights,
                                       batch_size=args.batch_size)
    except (ConfigError, FileNotFoundError, ModelLoadError, DataFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    best = next(r for r in comparison["results"] if r["setting"] == comparison["best"])
    text = "\n".join([
        f"# Reply selection on the {args.split} split", "",
        f"{len(rows)} {args.split} rows (main source, a fixed random subset); candidates sampled with "
        f"torch.manual_seed({predict.SAMPLING_SEED}). Best (mean rank on F1, chrF++, persona usage): "
        f"**{comparison['best']}**, in the bot:", "", "```",
        f"RERANK_CANDIDATES={best['candidates']}", f"RERANK_PERSONA_WEIGHT={best['persona_weight']:g}",
        f"RERANK_REPEAT_PENALTY={best['repeat_penalty']:g}", f"RERANK_CONSENSUS_WEIGHT={best['consensus_weight']:g}",
        "```", "", table(comparison), "",
    ])
    out_dir = args.out_dir or args.model_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"selection-{args.split}.md").write_text(text, encoding="utf-8")
    payload = {"split": args.split, "examples": len(rows), **comparison}
    (out_dir / f"selection-{args.split}.json").write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n",
                                                          encoding="utf-8")
    print(text)
    print(f"written: {out_dir / f'selection-{args.split}.md'}, .json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
