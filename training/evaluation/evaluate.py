"""``python -m training.evaluate``: score a trained model directory, or a baseline, on the test split.

    python -m training.evaluate runs/ru_mix/model --limit 200 [--decoding beam4] [--with-baselines]
    python -m training.evaluate --baseline retrieval --experiment ru_persona --output-dir runs/baselines/ru_persona-retrieval

A model directory gets metrics.json, report.md, loss_curve.png (from trainer_log.json)
and its model card README.md; ``--with-baselines`` also scores both baselines on the very
same test rows into baselines.json, which the card shows beside the model. The test split
is the one of the experiment the model was trained with (``experiment.json``), so models of
one language share their test set.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from bot.config import DecodingSettings, write_model_decoding
from bot.generation.errors import ModelLoadError
from dialogue.format import clean_text
from training.evaluation import predict, report
from training.evaluation.baselines import BASELINES, fit_baseline
from training.models.checkpoints import load_experiment
from training.evaluation.compare import compare_table
from training.experiments.config import ConfigError, ExperimentConfig
from training.experiments.registry import get_experiment
from training.data.responses import ignored_share
from training.evaluation.metrics import all_metrics
from training import DEFAULT_DATA_DIR, PROJECT_ROOT
from training.data.sources import DataFormatError

LIMIT_SEED = 0


def load_split(config: ExperimentConfig, data_dir: Path, limit: int | None, *, split: str = "test",
               cache_dir: Path | None = None):
    """The full data of ``config`` (train is needed by baselines) and up to ``limit`` rows of ``split``.

    The validation split mixes all sources; only its rows of the main source are kept, so that it
    matches the test split (held-out main-source dialogues).
    """
    from training.data.dataset import load_dataset_dict
    from training.data.hypotheses import HYPOTHESES

    hypothesis = HYPOTHESES[config.hypothesis]
    data = load_dataset_dict(
        hypothesis, data_dir, cache_dir=cache_dir, **config.data_options(),
    )
    rows = data[split]
    if split != "test":
        rows = rows.filter(lambda source: source == hypothesis.main_source, input_columns="source")
    if limit is not None and limit < len(rows):  # a random, fixed subset rather than the first dialogues
        rows = rows.shuffle(seed=LIMIT_SEED).select(range(limit))
    return hypothesis, data, rows


def run_cache(model_dir: Path) -> Path | None:
    """The data cache of the run a model directory belongs to (train.py's layout), if any."""
    cache = Path(model_dir).parent / "cache"
    return cache if cache.is_dir() else None


def score(predictions: list[str], test, language: str, **extra) -> dict:
    references = [clean_text(r) for r in test["reply"]]
    metrics = all_metrics(predictions, references, list(test["persona"]), language)
    if language == "ru":  # turn-taking, read with the Russian grammar the bot uses
        contexts = list(test["context"])
        metrics["ignored_statements"], metrics["statements"] = ignored_share(contexts, predictions)
        metrics["ignored_statements_people"], _ = ignored_share(contexts, references)
    return {"examples": len(predictions), **metrics, **extra}


def samples(predictions: list[str], test) -> list[dict]:
    return [
        {"persona": row["persona"], "context": row["context"], "reference": row["reply"], "reply": reply}
        for row, reply in zip(test.select(range(min(report.SAMPLES_IN_REPORT, len(test)))), predictions)
    ]


def model_decoding(backend, preset: str) -> DecodingSettings:
    """A decoding preset with the model's trained reply cap, the bot's fallback when MAX_NEW_TOKENS is unset."""
    return dataclasses.replace(predict.decoding_preset(preset), max_new_tokens=backend.format.max_target_tokens)


def generate_replies(backend, rows, decoding: DecodingSettings, *, batch_size: int = 16) -> tuple[list[str], float]:
    """Replies to ``rows`` (persona, context) as the bot would give them, and seconds per reply."""
    started = time.perf_counter()
    replies = predict.replies_to(backend, list(rows["persona"]), list(rows["context"]), batch_size=batch_size,
                                 decoding=decoding)
    return replies, (time.perf_counter() - started) / max(len(replies), 1)


def write_replies(path: Path, predictions: list[str], rows) -> None:
    """Every reply beside its row (persona, context, reference), one JSON object a line: two runs of the evaluation,
    before and after a change, are compared row by row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for row, reply in zip(rows, predictions, strict=True):
            item = {"persona": row["persona"], "context": row["context"], "reference": clean_text(row["reply"]), "reply": reply}
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"replies written: {path}")


def evaluate_model(model_dir: Path, data_dir: Path, *, limit: int | None = None, batch_size: int = 16,
                   decoding: str = predict.DEFAULT_PRESET, with_baselines: bool = False,
                   replies_path: Path | None = None) -> dict:
    """Generate on the test split, score, and write the results (and the model card) into ``model_dir``; every reply
    into ``replies_path`` if given."""
    from training.data.dataset import to_model_inputs
    from training.evaluation.model_card import write_model_card
    from training.models.checkpoints import TRAINER_LOG

    config = load_experiment(model_dir)
    hypothesis, data, test = load_split(config, data_dir, limit, cache_dir=run_cache(model_dir))
    backend = predict.load_backend(model_dir)
    settings = model_decoding(backend, decoding)
    predictions, seconds_per_reply = generate_replies(backend, test, settings, batch_size=batch_size)
    if replies_path is not None:
        write_replies(replies_path, predictions, test)
    texts = to_model_inputs(test, backend.format, hypothesis, backend.tokenizer, seed=config.seed)
    ppl, word_ppl = predict.perplexities(backend, texts, batch_size=batch_size)
    gain = predict.context_gain(backend, texts, ppl, batch_size=batch_size)
    metrics = score(predictions, test, hypothesis.language, perplexity=ppl, word_perplexity=word_ppl,
                    context_gain=gain, decoding_preset=decoding,
                    decoding=settings.describe(), seconds_per_reply=seconds_per_reply)
    log_path = model_dir / TRAINER_LOG
    if log_path.is_file():
        report.plot_loss_curve(json.loads(log_path.read_text(encoding="utf-8")), model_dir / report.LOSS_CURVE_FILE)
    _write(model_dir, f"{config.name}: {config.description}", metrics, samples(predictions, test))
    write_model_decoding(model_dir, settings, preset=decoding)  # the bot serves the model as evaluated here
    if with_baselines:
        baselines = {kind: score_baseline(kind, data, test, hypothesis.language)[1] for kind in BASELINES}
        path = report.write_baselines(model_dir, baselines)
        print(f"on the same {len(test)} test rows:\n{compare_table({'model': metrics, **baselines})}\nwritten: {path}")
    write_model_card(model_dir)
    return metrics


def score_baseline(kind: str, data, test, language: str, **extra) -> tuple[list[str], dict]:
    """A baseline fitted on ``data["train"]``: its replies to ``test`` and their metrics."""
    predictions = fit_baseline(kind, data["train"]).predict(list(test["context"]))
    return predictions, score(predictions, test, language, baseline=kind, **extra)


def evaluate_baseline(kind: str, experiment: str, data_dir: Path, out_dir: Path, *, limit: int | None = None) -> dict:
    config = get_experiment(experiment)
    hypothesis, data, test = load_split(config, data_dir, limit, cache_dir=out_dir.parent / "cache")
    predictions, metrics = score_baseline(kind, data, test, hypothesis.language, experiment=experiment)
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
    parser.add_argument("--decoding", choices=predict.DECODING_PRESETS, default=predict.DEFAULT_PRESET,
                        help="a decoding preset (training/evaluation/predict.py); compare them with python -m training.evaluation.decoding")
    parser.add_argument("--with-baselines", action="store_true",
                        help="also score the retrieval and constant baselines on the same test rows (baselines.json)")
    parser.add_argument("--replies", type=Path, metavar="FILE",
                        help="also write every reply beside its row (JSON lines), to compare two runs row by row")
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
            evaluate_model(args.model_dir, args.data_dir, limit=args.limit, batch_size=args.batch_size,
                           decoding=args.decoding, with_baselines=args.with_baselines, replies_path=args.replies)
    except (ConfigError, FileNotFoundError, ModelLoadError, DataFormatError) as exc:  # SourceUnavailable too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
