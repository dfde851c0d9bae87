"""The model card (README.md) of a trained model directory: data, format, limits, metrics, licences."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dialogue.format import FORMAT_FILE, FormatSpec
from training.experiment_config import ExperimentConfig
from training.report import metrics_table

CARD_FILE = "README.md"


def _sources_section(hypothesis_name: str) -> list[str]:
    from training.hypotheses import HYPOTHESES
    from training.sources import SOURCES

    hypothesis = HYPOTHESES[hypothesis_name]
    lines = [f"Hypothesis `{hypothesis.name}` ({hypothesis.language}): {hypothesis.description}.", "",
             "| source | mixture weight | licence |", "|---|---|---|"]
    lines += [f"| {name} | {weight:g} | {SOURCES[name].licence} |" for name, weight in hypothesis.sources.items()]
    augment = [n for n, on in (("persona facts shuffled", hypothesis.shuffle_persona),
                                ("history shuffled", hypothesis.shuffle_history),
                                ("replies of both speakers", hypothesis.both_sides)) if on]
    lines += ["", "Training augmentations: " + (", ".join(augment) if augment else "none") + "."]
    return lines


def render_model_card(config: ExperimentConfig, spec: FormatSpec, metrics: Mapping[str, Any] | None) -> str:
    base = "a small model trained from scratch (tokenizer trained on the train split)" if config.is_scratch \
        else f"`{config.base_model}`"
    lines = [
        f"# {config.name}", "", config.description, "",
        f"Fine-tuned from {base}. Trained with `python -m training.run` of this project; "
        "the replies are generated, may be wrong or rude, and must not be taken as facts.", "",
        "## Data", "", *_sources_section(config.hypothesis), "",
        "## Input format", "",
        f"`{spec.name}` (`{FORMAT_FILE}` in this directory; the bot builds its input from it).", "",
        f"- persona fact: at most {spec.max_fact_tokens} tokens, utterance: at most {spec.max_utterance_tokens} "
        "tokens (0.95 quantiles of the train split)",
        f"- history: the last {spec.max_history_turns} utterances; input cap {spec.max_source_tokens} tokens, "
        f"reply cap {spec.max_target_tokens} tokens", "",
        "## Metrics", "",
    ]
    if metrics:
        lines += [f"On {metrics.get('examples', '?')} test examples (greedy decoding); see `report.md`.", "",
                  metrics_table(metrics)]
    else:
        lines += ["Not evaluated yet: `python -m training.evaluate <this directory>`."]
    overrides = f" --base-model {config.base_model}" + ("" if config.max_steps == -1 else f" --max-steps {config.max_steps}")
    lines += [
        "", "## Retraining", "",
        f"```\npython -m training.run {config.name}{overrides} --data-dir DATA_DIR\n```", "",
        "All other settings are in `experiment.json` (pass changes with `--set key=value`).", "",
    ]
    return "\n".join(lines)


def write_model_card(model_dir: Path, config: ExperimentConfig, spec: FormatSpec,
                     metrics: Mapping[str, Any] | None = None) -> Path:
    path = Path(model_dir) / CARD_FILE
    path.write_text(render_model_card(config, spec, metrics), encoding="utf-8")
    return path
