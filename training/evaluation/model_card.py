"""The model card (README.md) of a model directory, rendered from the files beside it.

    python -m training.evaluation.model_card models/ru-persona-t5      # after evaluate / decoding / export

Sources, all optional but experiment.json and dialogue_format.json: metrics.json (test
metrics), baselines.json (the baselines on the same test rows), decoding.json (the decoding
comparison on validation), trainer_log.json (the loss curve), config.json and the weights.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dialogue.format import FORMAT_FILE, FormatSpec
from training.models.checkpoints import load_experiment
from training.evaluation.compare import compare_table
from training.experiments.config import ExperimentConfig
from training.evaluation.report import decoding_table, BASELINES_FILE, LOSS_CURVE_FILE, METRICS_FILE, metrics_table, read_json

CARD_FILE = "README.md"
_LANGUAGES = {"ru": "Russian", "en": "English"}
RECIPE_NOTES = {
    "ru_mix_cpu": "the optimizer mattered most: only Adafactor with steps relative to each weight's scale, as T5 "
                  "was trained, lets a model trained from nothing learn to copy from its input",
    "ru_mix_stage1": "a pretrained base already writes grounded Russian: LoRA adapts it in about an hour of 2 CPU "
                     "cores; the LM head computed over the reply positions only and bf16 autocast made it affordable",
    "ru_mix": "the persona chat alone after the mix lengthened the replies towards people's; leaving out the replies "
              "that give the speaker a name their persona lacks stopped the bot inventing names; a longer stage "
              "lowered the validation loss and raised F1, chrF++ and the persona probes; a last stage without the "
              "replies that ignore what the partner told made the bot respond to statements about as often as people",
}
"""Experiments whose recipe is argued in docs/model_recipe.md (the measured runs), in one sentence."""


def _sources_section(config: ExperimentConfig) -> list[str]:
    """The data of every stage, the first stage's first: the weights are derived from all of them."""
    from training.data.hypotheses import HYPOTHESES
    from training.data.sources import SOURCES
    from training.experiments.registry import EXPERIMENTS, STAGES

    stages = [config]
    while stages[0].pretrain in EXPERIMENTS or stages[0].pretrain in STAGES:
        stages.insert(0, EXPERIMENTS.get(stages[0].pretrain) or STAGES[stages[0].pretrain])
    lines = []
    for number, stage in enumerate(stages, 1):
        hypothesis = HYPOTHESES[stage.hypothesis]
        title = f"Stage {number} (`{stage.name}`), hypothesis" if len(stages) > 1 else "Hypothesis"
        lines += [f"{title} `{hypothesis.name}` ({hypothesis.language}): {hypothesis.description}.", "",
                  "| source | mixture weight | licence |", "|---|---|---|"]
        lines += [f"| {name} | {weight:g} | {SOURCES[name].licence} |" for name, weight in hypothesis.sources.items()]
        augment = [n for n, on in (("persona facts shuffled", hypothesis.shuffle_persona),
                                    ("history shuffled", hypothesis.shuffle_history),
                                    ("replies of both speakers", hypothesis.both_sides),
                                    ("replies that give the speaker a name their persona lacks left out",
                                     stage.drop_invented_names),
                                    ("replies that ignore the statement they answer left out",
                                     stage.drop_ignoring_replies)) if on]
        lines += ["", "Training augmentations: " + (", ".join(augment) if augment else "none") + ".", ""]
    return lines + ["The weights are derived from these data: the licences above bind any use of the model."]


def _results_section(metrics: Mapping[str, Any] | None, baselines: Mapping[str, Mapping] | None) -> list[str]:
    if not metrics:
        return ["Not evaluated yet: `python -m training.evaluate <this directory> --with-baselines`."]
    lines = [f"On {metrics.get('examples', '?')} test examples (decoding `{metrics.get('decoding_preset', 'greedy')}`); "
             "see `report.md` for sample dialogues.", ""]
    if not baselines:
        return lines + [metrics_table(metrics)]
    lines += ["Baselines scored by the same code on the same rows: `retrieval` answers with the reply of the "
              "TF-IDF-nearest train context, `constant` always with the most frequent train reply.", "",
              compare_table({"model": metrics, **baselines}), ""]
    beaten = [name for name, b in baselines.items() if metrics["f1"] > b["f1"] and metrics["chrf"] > b["chrf"]]
    verdict = ("beats " + ", ".join(beaten) if beaten else "beats no baseline") + " on both F1 and chrF++"
    not_beaten = [name for name in baselines if name not in beaten]
    return lines + [f"The model {verdict}" + (f"; not {', '.join(not_beaten)}." if beaten and not_beaten else ".")]


def _decoding_section(decoding: Mapping[str, Any] | None, tested: str | None) -> list[str]:
    if not decoding:
        return ["Not compared yet: `python -m training.evaluation.decoding <this directory> --limit 300`."]
    # The test metrics may use another preset than the best here, when the choice was made on more than F1 and chrF++.
    other = f" The test metrics above use `{tested}`." if tested and tested != decoding["best"] else ""
    return [f"{decoding['examples']} validation examples (never the test split), sampling seeded; best mean rank on F1 and chrF++: "
            f"**{decoding['best']}** (the bot serves the decoding of `decoding_settings.json`, the test metrics' own).{other}", "",
            decoding_table(decoding["results"], decoding["best"])]


def _recipe_section(config: ExperimentConfig, trainer_log: Sequence[Mapping[str, Any]] | None) -> list[str]:
    sizes = config.scratch
    shape = (f"T5 d_model {sizes.d_model}, {sizes.num_layers}+{sizes.num_layers} layers, {sizes.num_heads} heads, "
             f"d_ff {sizes.d_ff}, Unigram vocabulary {sizes.vocab_size}; " if config.is_scratch else "")
    lines = [f"{shape}{config.optimizer} at {config.learning_rate:g} ({config.scheduler} schedule, "
             f"{config.warmup:g} warm-up), batch {config.batch_size}x{config.grad_accumulation}, "
             f"{f'{config.max_steps} steps' if config.max_steps > 0 else f'{config.epochs:g} epochs'}, "
             f"label smoothing {config.label_smoothing:g}"
             + (f", LoRA rank {config.lora_rank} (alpha {config.lora_alpha:g}) on every projection, the base frozen"
                if config.lora_rank else "")
             + (f", {config.precision} mixed precision" if config.precision in ("bf16", "fp16") else "")
             + (f", decoder input dropout {config.decoder_input_dropout:g}" if config.decoder_input_dropout else "")
             + (f", context margin {config.context_margin:g} (weight {config.context_margin_weight:g})"
                if config.context_margin else "") + "."]
    if trainer_log:
        losses = [e for e in trainer_log if "loss" in e]
        evals = [e for e in trainer_log if "eval_loss" in e]
        if losses and evals:
            lines += ["", f"After {losses[-1]['step']} steps: train loss {losses[-1]['loss']:.3f}, validation loss "
                          f"{evals[-1]['eval_loss']:.3f} (`trainer_log.json`, ![loss curve]({LOSS_CURVE_FILE}))."]
    if config.name in RECIPE_NOTES:
        lines += ["", f"Why these settings: `docs/model_recipe.md` in the project records the measured runs "
                      f"({RECIPE_NOTES[config.name]})."]
    return lines


def _base_section(model_dir: Path) -> list[str]:
    """For adapters over a registered base: what the model is derived from and under which terms."""
    from bot.generation.base_models import get_base, read_base_file

    info = read_base_file(model_dir)
    if info is None:
        return []
    source = (f"the GGUF file of the PyPI package `{info['package']}` (Q4_K_M, de-quantised to float32 once; "
              f"SHA-256 `{info['gguf_sha256']}`)" if info["source"] == "gguf" else f"`{info['hub_id']}` from the hub")
    return ["## Base model and terms", "",
            f"Derived from **{info['name']}** (`{info['hub_id']}`), taken from {source}. This directory holds only "
            "the LoRA adapters trained here (merged into the base when the bot loads it) and, in `kept_tokens.json`, "
            "the token ids the training data uses (the vocabulary is trimmed to them at load time).", "",
            f"{get_base(info['name']).notice}. As a model derived from it, this one is subject to the same terms "
            "(including the Gemma Prohibited Use Policy): their text is `GEMMA_TERMS.html` in this directory, copied "
            "from the base's package, and `NOTICE` carries the notice.", ""]


def _checks_section(checks: Mapping[str, Any] | None) -> list[str]:
    from training.evaluation.conversation_checks import summary

    if not checks:
        return ["Not run yet: `python -m training.evaluation.conversation_checks <this directory>`."]
    probes = checks["persona_probes"]["rows"]
    decoding = checks.get("decoding", {})
    strategy = decoding.get("strategy", "greedy")  # older checks.json files were all greedy
    if strategy == "greedy" and decoding.get("min_end_probability"):
        strategy += f", ending a reply only where its end is at least {decoding['min_end_probability']:g} likely"
    lines = [summary(checks) + f" ({strategy}; `checks.json` has every reply).", "",
             "| persona (first fact) | question | reply | fact used |", "|---|---|---|---|"]
    lines += [f"| {r['persona'][0]} | {r['question']} | {r['reply'].replace('|', '/')} | {'yes' if r['reflected'] else 'no'} |"
              for r in probes[:8]]
    return lines


def _weights_dtype(path: Path) -> str:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as weights:
        name = next(iter(weights.keys()), None)
        return str(weights.get_slice(name).get_dtype()).lower().replace("f16", "float16").replace("f32", "float32") \
            if name else "float32"


def render_model_card(model_dir: Path) -> str:
    from training.data.hypotheses import HYPOTHESES

    model_dir = Path(model_dir)
    config, spec = load_experiment(model_dir), FormatSpec.load(model_dir)
    language = HYPOTHESES[config.hypothesis].language
    if config.pretrain:  # base_model is the earlier stage's output directory on the training machine
        base = f"the model of its earlier stage, `{config.pretrain}`,"
        overrides = ""
    else:
        base = "scratch (a small model; its tokenizer trained on the train split)" if config.is_scratch \
            else f"`{config.base_model}`"
        overrides = f" --base-model {config.base_model}"
    overrides += "" if config.max_steps == -1 else f" --max-steps {config.max_steps}"
    weights = sorted(model_dir.glob("*.safetensors"))
    dtype = _weights_dtype(weights[0]) if weights else "float32"
    size = f"{sum(w.stat().st_size for w in weights) / 2**20:.1f} MB of safetensors ({dtype})" if weights else "no weights"
    metrics = read_json(model_dir / METRICS_FILE)
    return "\n".join([
        f"# {config.name}", "", config.description, "",
        f"Trained from {base} with `python -m training.run` of this project; {size}, loaded as float32 on CPU. "
        "The replies are generated, may be wrong or rude, and must not be taken as facts.", "",
        "## Metrics", "", *_results_section(metrics, read_json(model_dir / BASELINES_FILE)), "",
        "## Conversation checks", "", *_checks_section(read_json(model_dir / "checks.json")), "",
        "## Decoding", "", *_decoding_section(read_json(model_dir / "decoding.json"), (metrics or {}).get("decoding_preset")), "",
        *_base_section(model_dir),
        "## Data", "", *_sources_section(config), "",
        "## Input format", "",
        f"`{spec.name}` (`{FORMAT_FILE}` in this directory; the bot builds its input from it).", "",
        f"- persona fact: at most {spec.max_fact_tokens} tokens, utterance: at most {spec.max_utterance_tokens} "
        "tokens (0.95 quantiles of the train split)",
        f"- history: the last {spec.max_history_turns} utterances; input cap {spec.max_source_tokens} tokens, "
        f"reply cap {spec.max_target_tokens} tokens", "",
        "## Limits", "",
        f"- {_LANGUAGES.get(language, language)} only; short replies "
        f"(at most {spec.max_target_tokens} tokens); anything older than {spec.max_history_turns} utterances is forgotten.",
        "- A small model on a CPU budget: replies are often generic and persona facts are used only now and then "
        "(see persona usage above).",
        "- The persona chat data is crowd-sourced small talk; the model knows nothing reliable about the world.", "",
        "## Training recipe", "", *_recipe_section(config, read_json(model_dir / "trainer_log.json")), "",
        "## Retraining", "",
        f"```\npython -m training.run {config.name}{overrides} --data-dir DATA_DIR\n"
        f"python -m training.evaluate runs/{config.name}/model --with-baselines --limit 500\n"
        f"python -m training.evaluation.decoding runs/{config.name}/model --limit 300\n```", "",
        "All other settings are in `experiment.json` (pass changes with `--set key=value`).", "",
    ])


def write_model_card(model_dir: Path) -> Path:
    path = Path(model_dir) / CARD_FILE
    path.write_text(render_model_card(model_dir), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluation.model_card", description=__doc__.split("\n")[0])
    parser.add_argument("model_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        print(f"written: {write_model_card(args.model_dir)}")
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
