"""What an evaluation leaves behind: metrics.json, report.md, loss_curve.png."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
BASELINES_FILE = "baselines.json"
"""Beside a model's metrics.json: the baselines scored on the same test rows, by name."""
LOSS_CURVE_FILE = "loss_curve.png"
SAMPLES_IN_REPORT = 5
DECODING_COLUMNS = ("f1", "chrf", "distinct_1", "distinct_2", "persona_usage", "avg_reply_words", "seconds_per_reply")

METRIC_LABELS = {
    "perplexity": "perplexity ↓",
    "word_perplexity": "perplexity per word ↓",
    "context_gain": "context gain (nats/token)",
    "f1": "unigram F1",
    "bleu": "BLEU",
    "chrf": "chrF++",
    "rouge_l": "ROUGE-L",
    "distinct_1": "distinct-1",
    "distinct_2": "distinct-2",
    "persona_usage": "persona usage",
    "persona_f1": "persona F1",
    "avg_reply_words": "words per reply",
    "statements": "messages that tell, asking nothing",
    "ignored_statements": "of those, replies that ignore what was told ↓",
    "ignored_statements_people": "of those, people's replies that ignore it",
}


def format_value(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def write_metrics(out_dir: Path, metrics: Mapping[str, Any]) -> Path:
    path = Path(out_dir) / METRICS_FILE
    path.write_text(json.dumps(dict(metrics), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def write_baselines(out_dir: Path, baselines: Mapping[str, Mapping[str, Any]]) -> Path:
    path = Path(out_dir) / BASELINES_FILE
    path.write_text(json.dumps(dict(baselines), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def read_json(path: Path) -> Any | None:
    """A results file an evaluation left behind, or None when there is none."""
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def metrics_table(metrics: Mapping[str, Any]) -> str:
    rows = ["| metric | value |", "|---|---|"]
    rows += [f"| {label} | {format_value(metrics[key])} |" for key, label in METRIC_LABELS.items() if key in metrics]
    return "\n".join(rows)


def write_report(out_dir: Path, title: str, metrics: Mapping[str, Any], samples: Sequence[Mapping[str, Any]]) -> Path:
    """``samples``: dicts with persona (list), context (list), reference and reply."""
    lines = [f"# {title}", "", f"{metrics.get('examples', '?')} test examples.", "", metrics_table(metrics), ""]
    if (Path(out_dir) / LOSS_CURVE_FILE).is_file():
        lines += [f"![loss curve]({LOSS_CURVE_FILE})", ""]
    lines += ["## Sample dialogues", ""]
    for number, sample in enumerate(samples[:SAMPLES_IN_REPORT], 1):
        lines += [f"### {number}", "", "Persona: " + " / ".join(sample["persona"]) if sample["persona"] else "Persona: —", ""]
        lines += [f"> {turn}  " for turn in sample["context"][-4:]]
        lines += ["", f"- reference: {sample['reference']}", f"- model: {sample['reply']}", ""]
    path = Path(out_dir) / REPORT_FILE
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def decoding_table(results: Sequence[dict], best: str) -> str:
    """Markdown: a row per preset, ``best`` in bold."""
    labels = [METRIC_LABELS.get(c, "s / reply" if c == "seconds_per_reply" else c) for c in DECODING_COLUMNS]
    lines = ["| decoding | " + " | ".join(labels) + " |", "|---|" + "---|" * len(DECODING_COLUMNS)]
    for r in results:
        name = f"**{r['preset']}**" if r["preset"] == best else r["preset"]
        lines.append(f"| {name} | " + " | ".join(format_value(r.get(c, "—")) for c in DECODING_COLUMNS) + " |")
    return "\n".join(lines)


def plot_loss_curve(log_history: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    """Train and validation loss against the step, from a Trainer ``log_history``; None if nothing logged."""
    return _plot({"train": _points(log_history, "loss"), "validation": _points(log_history, "eval_loss")}, path,
                 "loss", {"train": "-"})


def plot_validation_curves(runs: Mapping[str, Sequence[Mapping[str, Any]]], path: Path) -> Path | None:
    """Validation loss against the step of several runs (label -> Trainer ``log_history``) on one chart; None if
    none logged one."""
    return _plot({label: _points(history, "eval_loss") for label, history in runs.items()}, path, "validation loss")


def _points(log_history: Sequence[Mapping[str, Any]], key: str) -> list[tuple[int, float]]:
    return [(e["step"], e[key]) for e in log_history if key in e and "step" in e]


def _plot(curves: Mapping[str, list[tuple[int, float]]], path: Path, ylabel: str,
          styles: Mapping[str, str] | None = None) -> Path | None:
    """Curves (label -> points) against the step in one chart (dots on each point unless ``styles`` says); None if
    every curve is empty."""
    curves = {label: points for label, points in curves.items() if points}
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, points in curves.items():
        ax.plot(*zip(*points), (styles or {}).get(label, "o-"), label=label)
    ax.set(xlabel="step", ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
