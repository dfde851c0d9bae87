"""Validation loss curves of several runs on one chart (the arms of docs/results.md).

    python -m training.evaluation.curves RUN/cpu_h3 RUN/cpu_h4 RUN/cpu_h5 --out docs/arms_loss.png

Each argument is a run's output directory, a model directory or a checkpoint: the log is read from the first of
``trainer_log.json`` (a finished model) and ``trainer_state.json`` (a checkpoint) found in it, its ``model/``
or its latest ``checkpoints/checkpoint-N/``, up to ``--max-step``. A run is named by its experiment (and its seed
where the runs differ in seed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.evaluation.report import plot_validation_curves
from training.models.checkpoints import load_experiment


def log_history(run: Path) -> tuple[Path, list[dict[str, Any]]]:
    """The directory holding ``run``'s training log, and the log (a Trainer ``log_history``)."""
    checkpoints = sorted((run / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    for directory in (run, run / "model", *reversed(checkpoints)):
        if (log := directory / "trainer_log.json").is_file():
            return directory, json.loads(log.read_text(encoding="utf-8"))
        if (state := directory / "trainer_state.json").is_file():
            return directory, json.loads(state.read_text(encoding="utf-8"))["log_history"]
    raise FileNotFoundError(f"{run}: no trainer_log.json or trainer_state.json (a directory of python -m training.run)")


def named_runs(runs: Sequence[Path], max_step: int | None = None) -> dict[str, list[dict[str, Any]]]:
    """Label -> log history of each run, cut at ``max_step``."""
    found = [log_history(run) for run in runs]
    configs = [load_experiment(directory) for directory, _ in found]
    seeded = len({config.seed for config in configs}) > 1
    named: dict[str, list[dict[str, Any]]] = {}
    for config, (_, history) in zip(configs, found):
        label = f"{config.name} (seed {config.seed})" if seeded else config.name
        named[label] = [e for e in history if max_step is None or e.get("step", 0) <= max_step]
    return named


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluation.curves", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="the chart (PNG)")
    parser.add_argument("--max-step", type=int, help="leave out what was logged after this step")
    args = parser.parse_args(argv)
    try:
        runs = named_runs(args.runs, args.max_step)
    except FileNotFoundError as error:
        sys.exit(str(error))
    if plot_validation_curves(runs, args.out) is None:
        sys.exit("no validation loss in these runs' logs (eval_steps larger than the run?)")
    for label, history in runs.items():
        evals = [f"{e['step']}: {e['eval_loss']:.3f}" for e in history if "eval_loss" in e]
        print(f"{label}: {', '.join(evals)}")
    print(f"chart -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
