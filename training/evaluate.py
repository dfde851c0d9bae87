"""``python -m training.evaluate``: score a trained model directory, or a baseline, on the test split.

    python -m training.evaluate runs/ru_mix/model --limit 200
    python -m training.evaluate --baseline retrieval --experiment ru_persona --output-dir runs/baselines/ru_persona-retrieval

A model directory gets metrics.json, report.md, loss_curve.png (from trainer_log.json)
and its model card README.md. The test split is the one of the experiment the model was
trained with (``experiment.json``), so models of one language share their test set.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from bot.generation.errors import ModelLoadError
from dialogue.format import clean_text
from training import report
from training.baselines import BASELINES, fit_baseline
from training.checkpoints import load_experiment
from training.experiment_config import ConfigError, ExperimentConfig
from training.experiments import get_experiment
from training.metrics import all_metrics
from training.run import DEFAULT_DATA_DIR, PROJECT_ROOT
from training.sources import DataFormatError

LIMIT_SEED = 0


def load_test(config: ExperimentConfig, data_dir: Path, limit: int | None, cache_dir: Path | None = None):
    """The full data of ``config`` (train is needed by baselines) and up to ``limit`` test rows."""
    from training.data import load_dataset_dict
    from training.hypotheses import HYPOTHESES

    hypothesis = HYPOTHESES[config.hypothesis]
    data = load_dataset_dict(
        hypothesis, data_dir, cache_dir=cache_dir, seed=config.seed,
        max_dialogues_per_source=config.max_dialogues_per_source,
    )
    test = data["test"]
    if limit is not None and limit < len(test):  # a random, fixed subset rather than the first dialogues
        test = test.shuffle(seed=LIMIT_SEED).select(range(limit))
    return hypothesis, data, test


def score(predictions: list[str], test, language: str, **extra) -> dict:
    references = [clean_text(r) for r in test["reply"]]
    metrics = all_metrics(predictions, references, list(test["persona"]), language)
    return {"examples": len(predictions), **metrics, **extra}


def samples(predictions: list[str], test) -> list[dict]:
    return [
        {"persona": row["persona"], "context": row["context"], "reference": row["reply"], "reply": reply}
        for row, reply in zip(test.select(range(min(report.SAMPLES_IN_REPORT, len(test)))), predictions)
    ]


def evaluate_model(model_dir: Path, data_dir: Path, *, limit: int | None = None, batch_size: int = 16) -> dict:
    """Generate on the test split, score, and write the results into ``model_dir``."""
    from training import predict
    from training.data import to_model_inputs
    from training.model_card import write_model_card
    from training.train import TRAINER_LOG

    config = load_experiment(model_dir)
    cache = model_dir.parent / "cache"  # the run's data cache (train.py's layout), if this is a run
    hypothesis, _, test = load_test(config, data_dir, limit, cache_dir=cache if cache.is_dir() else None)
    backend = predict.load_backend(model_dir)
    decoding = dataclasses.replace(predict.GREEDY, max_new_tokens=backend.format.max_target_tokens)
    started = time.perf_counter()
    predictions = predict.generate(backend, predict.build_inputs(backend, list(test["persona"]), list(test["context"])),
                                   batch_size=batch_size, decoding=decoding)
    seconds = time.perf_counter() - started
    texts = to_model_inputs(test, backend.format, hypothesis, backend.tokenizer, seed=config.seed)
    ppl = predict.perplexity(backend, texts, batch_size=batch_size)
    metrics = score(predictions, test, hypothesis.language, perplexity=ppl, decoding=decoding.describe(),
                    seconds_per_reply=seconds / max(len(predictions), 1))
    log_path = model_dir / TRAINER_LOG
    if log_path.is_file():
        report.plot_loss_curve(json.loads(log_path.read_text(encoding="utf-8")), model_dir / report.LOSS_CURVE_FILE)
    _write(model_dir, f"{config.name}: {config.description}", metrics, samples(predictions, test))
    write_model_card(model_dir, config, backend.format, metrics)
    return metrics


def evaluate_baseline(kind: str, experiment: str, data_dir: Path, out_dir: Path, *, limit: int | None = None) -> dict:
    config = get_experiment(experiment)
    hypothesis, data, test = load_test(config, data_dir, limit, cache_dir=out_dir.parent / "cache")
    predictions = fit_baseline(kind, data["train"]).predict(list(test["context"]))
    metrics = score(predictions, test, hypothesis.language, baseline=kind, experiment=experiment)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir, f"{kind} baseline on {experiment}", metrics, samples(predictions, test))
    return metrics


def _write(out_dir: Path, title: str, metrics: dict, sample_rows: list[dict]) -> None:
    report.write_metrics(out_dir, metrics)
    report.write_report(out_dir, title, metrics, sample_rows)
    print(report.metrics_table(metrics))
    print(f"written: {out_dir / report.METRICS_FILE}, {out_dir / report.REPORT_FILE}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("model_dir", nargs="?", type=Path, help="a model directory written by training.run")
    parser.add_argument("--baseline", choices=BASELINES, help="score a baseline instead of a model")
    parser.add_argument("--experiment", help="with --baseline: whose data (see python -m training.run --list)")
    parser.add_argument("--output-dir", type=Path, help="with --baseline; default runs/baselines/<experiment>-<kind>")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR)))
    parser.add_argument("--limit", type=int, help="score at most N test examples (a fixed random subset)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--torch-threads", type=int, default=int(os.environ.get("TORCH_THREADS", 0)))
    args = parser.parse_args(argv)
    if (args.model_dir is None) == (args.baseline is None):
        parser.error("give either MODEL_DIR or --baseline (with --experiment)")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be >= 1")
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    try:
        if args.baseline:
            if not args.experiment:
                parser.error("--baseline needs --experiment")
            out_dir = args.output_dir or PROJECT_ROOT / "runs" / "baselines" / f"{args.experiment}-{args.baseline}"
            evaluate_baseline(args.baseline, args.experiment, args.data_dir, out_dir, limit=args.limit)
        else:
            evaluate_model(args.model_dir, args.data_dir, limit=args.limit, batch_size=args.batch_size)
    except (ConfigError, FileNotFoundError, ModelLoadError, DataFormatError) as exc:  # SourceUnavailable too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
