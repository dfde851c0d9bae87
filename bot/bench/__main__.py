"""python -m bot.bench [--model-dir DIR] [--requests N] [--concurrency 1,8,32] [--out PATH]"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

from bot.bench.paths import PATHS, BenchConfig, measure
from bot.bench.report import chart, markdown
from bot.config import load_settings, read_model_decoding
from bot.generation.adapted import is_adapter_dir


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.bench", description=__doc__)
    parser.add_argument("--model-dir", type=Path, help="the checkpoint (default: MODEL_PATH)")
    parser.add_argument("--requests", type=int, default=64, help="requests per concurrency level")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated concurrency levels")
    parser.add_argument("--threads", type=int, default=2, help="torch / CTranslate2 threads (per worker)")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes serving side by side, each with its own model (the bot's workers on one "
                             "machine); concurrency levels and requests are shared out among them")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-max-size", type=int, default=32, help="the Generator's BATCH_MAX_SIZE")
    parser.add_argument("--batch-max-wait-ms", type=int, help="the Generator's BATCH_MAX_WAIT_MS (default: settings)")
    parser.add_argument("--decoding", choices=("greedy", "bot"), default="greedy",
                        help="greedy (comparable across runs) or the bot's: the model's own decoding with .env's overrides")
    parser.add_argument("--rerank-candidates", type=int, default=4,
                        help="candidates per reply on the selection paths (scored by the RERANK_* settings)")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"subset of {','.join(PATHS)}")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmark"), help="writes <out>.md and <out>.png")
    args = parser.parse_args(argv)
    if args.rerank_candidates < 1:
        parser.error("--rerank-candidates must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings()
    names = [n for n in args.paths.split(",") if n]
    if unknown := sorted(set(names) - set(PATHS)):
        sys.exit(f"unknown paths {unknown}; known: {', '.join(PATHS)}")
    model_dir = args.model_dir or Path(settings.model_path)
    model_name = str(model_dir)
    if not (model_dir / "config.json").is_file() and not is_adapter_dir(model_dir):
        sys.exit(f"no model at {model_dir}: pass --model-dir (default: MODEL_PATH, the shipped model)")
    try:
        config = _config(args, settings, model_dir)
    except ValueError as error:
        sys.exit(str(error))
    header = _header(config, model_name)
    results = []
    for name in names:
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        results.append(measure(name, config))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    chart_file = chart(results, args.out.with_suffix(".png"), f"{model_name}; {config.threads} threads")
    table = markdown(results, header) + f"\n![benchmark chart]({chart_file.name})\n"
    print(table)
    args.out.with_suffix(".md").write_text(table, encoding="utf-8")
    return 0


def _config(args: argparse.Namespace, settings, model_dir: Path) -> BenchConfig:  # noqa: ANN001
    return BenchConfig(
        model_dir=model_dir,
        requests=args.requests,
        concurrency=tuple(int(c) for c in args.concurrency.split(",")),
        threads=args.threads,
        workers=args.workers,
        max_new_tokens=args.max_new_tokens,
        batch_max_size=args.batch_max_size,
        batch_max_wait_ms=settings.batch_max_wait_ms if args.batch_max_wait_ms is None else args.batch_max_wait_ms,
        selection=replace(settings.selection, candidates=args.rerank_candidates),
        decoding_settings=(settings.serving_decoding(read_model_decoding(model_dir)) if args.decoding == "bot"
                           else BenchConfig.decoding_settings),
    )


def _header(config: BenchConfig, model_name: str) -> list[str]:
    import ctranslate2
    import torch

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        "# Generation benchmark",
        "",
        f"Command: `{shlex.join(['python', '-m', 'bot.bench', *sys.argv[1:]])}`  ",
        f"Model: {model_name}  ",
        f"Run: {time.strftime('%Y-%m-%d %H:%M')}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average at start {load}; torch {torch.__version__}, "
        f"ctranslate2 {ctranslate2.__version__}, {config.threads} threads"
        + (f" in each of {config.workers} worker processes" if config.workers > 1 else "") + "  ",
        f"Load: {config.requests} requests per level, {_decoding(config)}, max_new_tokens={config.max_new_tokens}, "
        f"Generator batch_max_size={config.batch_max_size}, batch_max_wait_ms={config.batch_max_wait_ms}; "
        "latency p50/p95 at concurrency 1  ",
        f"Selection paths: {_selection(config)}",
    ]


def _selection(config: BenchConfig) -> str:
    s = config.selection
    return (f"{s.candidates} candidates, persona weight {s.persona_weight:g}, repeat penalty {s.repeat_penalty:g}, "
            f"consensus weight {s.consensus_weight:g}")


def _decoding(config: BenchConfig) -> str:
    kwargs = config.decoding.describe()
    shown = ("num_beams", "length_penalty", "top_p", "temperature") if kwargs["strategy"] != "greedy" else ()
    shown += ("min_new_tokens", "min_end_probability")
    return ", ".join([str(kwargs["strategy"]), *(f"{k}={kwargs[k]}" for k in shown if k in kwargs)])


if __name__ == "__main__":
    raise SystemExit(main())
