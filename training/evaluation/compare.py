"""``python -m training.compare DIR...``: the metrics.json of several runs side by side, as Markdown.

    python -m training.compare runs/ru_persona/model runs/ru_mix/model runs/baselines/ru_persona-retrieval
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.evaluation.report import METRIC_LABELS, METRICS_FILE, format_value


def run_name(directory: Path) -> str:
    """``runs/ru_mix/model`` -> ``ru_mix``; any other directory keeps its own name."""
    directory = directory.resolve()
    return directory.parent.name if directory.name == "model" else directory.name


def load_metrics(directory: Path) -> dict:
    path = directory / METRICS_FILE if directory.is_dir() else directory
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run python -m training.evaluate first")
    return json.loads(path.read_text(encoding="utf-8"))


def compare_table(runs: dict[str, dict]) -> str:
    """Rows: the metrics any run has, in the usual order; columns: the runs."""
    keys = [k for k in ("examples", *METRIC_LABELS) if any(k in m for m in runs.values())]
    lines = ["| metric | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]
    for key in keys:
        cells = [format_value(m[key]) if key in m else "—" for m in runs.values()]
        lines.append(f"| {METRIC_LABELS.get(key, key)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.compare", description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="model or baseline directories (or metrics.json files)")
    args = parser.parse_args(argv)
    runs: dict[str, dict] = {}
    try:
        for directory in args.dirs:
            name = run_name(directory if directory.is_dir() else directory.parent)
            while name in runs:  # two runs of one experiment: keep both columns
                name += "'"
            runs[name] = load_metrics(directory)
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(compare_table(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
