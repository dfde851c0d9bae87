"""The experiment registry, its validation, and the command line's overrides."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from dialogue.format import FORMATS
from training.experiments.config import ConfigError, ExperimentConfig
from training.experiments.overrides import apply_overrides
from training.experiments.registry import EXPERIMENTS, describe_registry, get_experiment
from training.data.hypotheses import HYPOTHESES
from training.run import main, parse_args, resolve_config
from training import PROJECT_ROOT
from bot.generation.base_models import BASE_MODELS
from training.data.sources import SOURCES

EXPECTED = {
    "en_h1_seq2seq": "h1", "en_h1_causal": "h1_causal", "en_h1_1": "h1_1", "en_h1_2": "h1_2", "en_h2": "h2",
    "en_h2_1": "h2_1", "ru_persona": "h3", "ru_persona_both": "h4",
    "ru_mix_cpu": "h5",  # the CPU recipe of the first shipped model (a T5 from scratch)
    "ru_mix": "h4_causal",  # the bot's model: stage 1 the h5 mix (ru_mix_stage1), then the persona chat
    "ru_mix_seq2seq": "h5",  # the Seq2Seq arm from the same base (T5Gemma 2 built from it)
    "cpu_h3": "h3_causal", "cpu_h4": "h4_causal", "cpu_h5": "h5_causal",  # h3-h5 on one base and budget
}


def test_registry_covers_every_hypothesis() -> None:
    assert {name: e.hypothesis for name, e in EXPERIMENTS.items()} == EXPECTED
    assert len(EXPERIMENTS) <= 14  # the seed's hypotheses, the shipped recipes, the CPU comparison: no search history


def test_the_shipped_recipes_are_marked_and_are_what_their_model_directories_were_trained_with() -> None:
    from training.experiments.registry import SHIPPED
    from training.models.checkpoints import load_experiment

    listing = describe_registry().splitlines()
    assert [line.split()[0] for line in listing if "★ shipped" in line] == ["ru_mix_cpu", "ru_mix"]
    for name, directory in SHIPPED.items():
        trained = load_experiment(PROJECT_ROOT / directory).to_dict()
        registered = EXPERIMENTS[name].to_dict()
        differing = {key for key in registered if trained.get(key, registered[key]) != registered[key]}
        assert differing <= {"base_model", "description"}, (name, differing)  # the base: the stage's path


def test_the_cpu_arms_differ_only_in_their_data() -> None:
    arms = [EXPERIMENTS[name].to_dict() for name in ("cpu_h3", "cpu_h4", "cpu_h5")]
    data_keys = {"name", "hypothesis", "description", "max_partner_facts"}
    assert all({k: v for k, v in arm.items() if k not in data_keys} ==
               {k: v for k, v in arms[0].items() if k not in data_keys} for arm in arms)
    assert [arm["max_partner_facts"] for arm in arms] == [0, 5, 5]  # h4 and h5: both speakers' personas


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_experiment_resolves_its_data_sources_and_format(name: str) -> None:
    config = EXPERIMENTS[name]
    hypothesis = HYPOTHESES[config.hypothesis]
    assert set(hypothesis.sources) <= set(SOURCES)
    assert hypothesis.format_name in FORMATS
    # a Russian experiment starts from a Russian or multilingual model, an English one from an English model
    # (ru_mix_cpu, the CPU recipe of the T5, is trained from scratch with its own Russian tokenizer)
    multilingual = config.base_model in BASE_MODELS
    assert config.is_scratch or multilingual or ("rut5" in config.base_model) == (hypothesis.language == "ru")
    assert not multilingual or hypothesis.language == "ru"
    # the config round-trips through experiment.json
    assert ExperimentConfig.from_dict(config.to_dict()) == config


def test_unknown_experiment_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="ru_mix"):
        get_experiment("ru_mixx")


def test_set_overrides_are_typed() -> None:
    config = apply_overrides(
        EXPERIMENTS["ru_mix_cpu"],
        ["learning_rate=3e-4", "batch_size=4", "scratch.d_model=128", "max_dialogues_per_source=none",
         "optimizer=adamw", "base_model=scratch"],
    )
    assert config.learning_rate == 3e-4 and config.batch_size == 4 and config.optimizer == "adamw"
    assert config.scratch.d_model == 128 and config.scratch.num_layers == EXPERIMENTS["ru_mix_cpu"].scratch.num_layers
    assert config.max_dialogues_per_source is None and config.is_scratch
    assert apply_overrides(config, ["max_dialogues_per_source=50"]).max_dialogues_per_source == 50


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("nonsense=1", "unknown config key 'nonsense'"),
        ("scratch.width=1", "unknown config key 'scratch.width'"),
        ("learning_rate", "expects key=value"),
        ("batch_size=four", "batch_size: expected int"),
        ("batch_size=0", "batch_size must be >= 1"),
        ("optimizer=sgd", "optimizer must be one of"),
        ("precision=fp8", "precision must be one of"),
        ("scratch.num_heads=3", "must divide"),
        ("scratch=1", "one by one"),
    ],
)
def test_bad_overrides_fail_with_a_clear_message(pair: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        apply_overrides(EXPERIMENTS["ru_persona"], [pair])


def test_post_init_validation() -> None:
    base = EXPERIMENTS["ru_persona"]
    for changes in ({"max_steps": 0}, {"learning_rate": 0.0}, {"max_source_tokens": 4}, {"label_smoothing": 1.0},
                    {"dropout": 1.0}, {"dropout": -0.1}, {"context_margin": -1.0}, {"context_margin_weight": 0.0},
                    {"context_margin": 1.0, "batch_size": 1}, {"objective": "copy"}, {"denoise_rate": 0.0},
                    {"denoise_rate": 1.0}, {"pretrain": base.name}):
        with pytest.raises(ConfigError):
            dataclasses.replace(base, **changes)


def test_cli_flags_override_the_registry() -> None:
    args = parse_args(["ru_mix_cpu", "--base-model", "scratch", "--max-steps", "50", "--set", "seed=7"])
    config = resolve_config(args)
    assert (config.base_model, config.max_steps, config.seed) == ("scratch", 50, 7)
    # an explicit base model also replaces an earlier stage of the recipe
    staged = resolve_config(parse_args(["ru_mix_cpu", "--set", "pretrain=ru_mix_stage1"]))
    assert staged.pretrain == "ru_mix_stage1"
    assert resolve_config(parse_args(["ru_mix", "--base-model", "gemma-3-270m"])).pretrain is None
    # --max-steps and --set reach every stage of a recipe: a quick try of all of it
    args = parse_args(["ru_mix", "--max-steps", "2", "--set", "max_dialogues_per_source=5"])
    final, stage = resolve_config(args), resolve_config(args, "ru_mix_stage1")
    assert (final.max_steps, stage.max_steps, stage.max_dialogues_per_source) == (2, 2, 5)
    assert resolve_config(args, "ru_mix_stage2").max_steps == 2
    assert (stage.name, stage.hypothesis, stage.pretrain) == ("ru_mix_stage1", "h5_causal", None)


def test_pretrain_stages_are_of_the_same_language_and_kind() -> None:
    from training.experiments.registry import STAGES

    staged = {name: e.pretrain for name, e in {**EXPERIMENTS, **STAGES}.items() if e.pretrain}
    assert staged == {"ru_mix": "ru_mix_stage2", "ru_mix_stage2": "ru_mix_stage1"}
    assert set(STAGES) == {"ru_mix_stage1", "ru_mix_stage2"}
    for name, stage_name in staged.items():
        stage, later = HYPOTHESES[get_experiment(stage_name).hypothesis], HYPOTHESES[get_experiment(name).hypothesis]
        # the model of one stage is the start of the next: the same kind of model (CausalLM or Seq2Seq)
        assert FORMATS[stage.format_name].causal == FORMATS[later.format_name].causal, stage_name
        assert stage.language == later.language
        assert ExperimentConfig.from_dict(get_experiment(stage_name).to_dict()) == get_experiment(stage_name)
    assert all(stage.pretrain in STAGES for stage in STAGES.values() if stage.pretrain)  # chains end in the registry


def test_a_recipe_whose_stages_go_round_is_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                                                   ) -> None:
    from training import run
    from training.experiments import registry

    monkeypatch.setitem(registry.STAGES, "ru_mix_stage1", dataclasses.replace(registry.STAGES["ru_mix_stage1"],
                                                                              pretrain="ru_mix_stage2"))
    assert run.main(["ru_mix"]) == 2
    assert "go round" in capsys.readouterr().err


def test_an_unreachable_hub_id_fails_at_once_with_what_to_do_instead(tmp_path: Path) -> None:
    """Offline (CI has no network but the package registries) a hub id fails before any data is read, without
    huggingface_hub's retry loop (about 50 seconds): the timeout below would stop that."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "training.run", "ru_persona", "--base-model", "nobody/no-such-model",
                             "--max-steps", "2", "--output-dir", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=30, env={**os.environ, "HF_HUB_OFFLINE": "0"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "'nobody/no-such-model' is a hub id" in result.stderr and "--base-model gemma-3-270m" in result.stderr
    assert not (tmp_path / "run").exists()  # nothing read, nothing written


def test_cli_list_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in EXPECTED) and "cointegrated/rut5-base-multitask" in out
    assert out.strip() == describe_registry()
    assert main(["ru_mix", "--set", "learning_rate=fast"]) == 2
    assert "learning_rate: expected float" in capsys.readouterr().err
    assert main([]) == 2


@pytest.mark.parametrize("causal", [False, True])
def test_dropout_override_rebuilds_the_model_with_the_same_weights(tiny_model_dir, causal: bool) -> None:
    import torch
    from transformers import AutoTokenizer

    from training.models.base import DROPOUT_KEY_ENDINGS, load_base, with_dropout
    from training.models.scratch import build_model

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = build_model(tokenizer, EXPERIMENTS["ru_mix_cpu"].scratch, causal=causal, max_positions=64)
    rebuilt = with_dropout(model, 0.0)
    rates = {k: v for k, v in rebuilt.config.to_dict().items() if k.endswith(DROPOUT_KEY_ENDINGS)}
    assert rates and set(rates.values()) == {0.0}
    assert all(m.p == 0.0 for m in rebuilt.modules() if isinstance(m, torch.nn.Dropout))
    for name, weight in model.state_dict().items():
        assert torch.equal(weight, rebuilt.state_dict()[name]), name
    # Rebuilt, not patched: in training mode it now computes exactly what it computes in eval mode.
    ids = torch.tensor([[5, 6, 7, 8]])
    kwargs = {"input_ids": ids} if causal else {"input_ids": ids, "decoder_input_ids": ids}
    rebuilt.train()
    trained = rebuilt(**kwargs).logits
    rebuilt.eval()
    assert torch.allclose(trained, rebuilt(**kwargs).logits)
    # A resumed checkpoint gets the config's dropout too (the rest comes from the checkpoint).
    config = dataclasses.replace(EXPERIMENTS["ru_mix_cpu"], dropout=0.05)
    resumed = load_base(config, None, format_name="godel", checkpoint=tiny_model_dir).model
    assert resumed.config.dropout_rate == 0.05


def test_decoder_input_dropout_hides_tokens_but_the_start() -> None:
    import torch

    from training.probes.input_use import drop_decoder_inputs

    ids = torch.arange(1, 1 + 64 * 32).reshape(64, 32)
    assert torch.equal(drop_decoder_inputs(ids, 0.0, replacement_id=0), ids)
    dropped = drop_decoder_inputs(ids, 0.3, replacement_id=0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(dropped[:, 0], ids[:, 0])
    hidden = (dropped[:, 1:] == 0).float().mean().item()
    assert 0.25 < hidden < 0.35
    assert torch.equal(dropped[dropped != 0], ids[dropped != 0])  # the rest is untouched


def test_context_margin_adds_its_hinge_to_the_training_loss(tiny_model_dir, tmp_path) -> None:
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, Seq2SeqTrainingArguments

    from training.probes.input_use import InputUseTrainer, reply_nll

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(tiny_model_dir, dropout_rate=0.0).train()
    batch = tokenizer(["[CONTEXT] Привет! [KNOWLEDGE] Я работаю врачом", "[CONTEXT] Как дела? [KNOWLEDGE] У меня кот"],
                      text_target=["Я врач.", "Хорошо, а у меня кот."], padding=True, return_tensors="pt")
    batch["labels"] = batch["labels"].masked_fill(batch["labels"] == tokenizer.pad_token_id, -100)
    args = Seq2SeqTrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True)

    def training_loss(margin: float) -> float:
        trainer = InputUseTrainer(model=model, args=args, context_margin=margin, context_margin_weight=2.0)
        return trainer.compute_loss(model, dict(batch)).item()

    with torch.no_grad():
        own = reply_nll(model(**batch).logits, batch["labels"])
        swapped = {**batch, "input_ids": batch["input_ids"].roll(1, 0), "attention_mask": batch["attention_mask"].roll(1, 0)}
        gain = float((reply_nll(model(**swapped).logits, batch["labels"]) - own).mean())
    plain = training_loss(0.0)
    assert plain == pytest.approx(model(**batch).loss.item(), rel=1e-5)  # off: the plain cross-entropy
    # A margin no row meets: every row pays (margin - its gain), weighted.
    assert training_loss(50.0) == pytest.approx(plain + 2.0 * (50.0 - gain), rel=1e-5)
    model.eval()  # evaluation steps are never changed
    assert training_loss(50.0) == pytest.approx(plain, rel=1e-5)


def test_copy_probe_trains_the_optimizer_it_names(capsys: pytest.CaptureFixture[str]) -> None:
    from training.probes.copy_probe import build_optimizer, probe
    from training.experiments.config import ScratchModelConfig

    tiny = ScratchModelConfig(d_model=32, num_layers=1, num_heads=2, d_ff=64, vocab_size=256)
    losses = probe(tiny, "adafactor_scaled", 1e-2, 100)
    assert len(losses) == 2 and losses[1] < losses[0]
    assert "step 100: loss" in capsys.readouterr().out
    import torch

    layer = torch.nn.Linear(2, 2)
    assert build_optimizer(layer, "adafactor_scaled", 1e-2).defaults["scale_parameter"] is True
    assert build_optimizer(layer, "adafactor", 1e-2).defaults["scale_parameter"] is False
    assert isinstance(build_optimizer(layer, "adamw", 1e-3), torch.optim.AdamW)


def test_the_arms_validation_curves_share_one_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``training.evaluation.curves``: each run's log from its latest checkpoint (or finished model), named by its
    experiment and, where seeds differ, its seed; what was logged after ``--max-step`` left out."""
    from training.evaluation.curves import main as curves

    def run(name: str, seed: int, losses: list[float], finished: bool) -> Path:
        directory = tmp_path / f"{name}-{seed}"
        where = directory / "model" if finished else directory / "checkpoints" / "checkpoint-75"
        where.mkdir(parents=True)
        (where / "experiment.json").write_text(json.dumps(dataclasses.replace(get_experiment(name), seed=seed).to_dict()))
        history = [{"step": 15 * (i + 1), "eval_loss": loss} for i, loss in enumerate(losses)]
        history += [{"step": 15 * (i + 1), "loss": loss + 0.5} for i, loss in enumerate(losses)]
        log = history if finished else {"log_history": history}
        (where / ("trainer_log.json" if finished else "trainer_state.json")).write_text(json.dumps(log))
        return directory

    runs = [run("cpu_h3", 42, [3.7, 3.6, 3.5], False), run("cpu_h3", 7, [3.8, 3.6], True),
            run("cpu_h4", 42, [3.9, 3.7, 3.6, 3.4], False)]
    out = tmp_path / "curves.png"
    assert curves([*map(str, runs), "--out", str(out), "--max-step", "45"]) == 0
    printed = capsys.readouterr().out
    assert "cpu_h3 (seed 42): 15: 3.700, 30: 3.600, 45: 3.500\n" in printed and "cpu_h3 (seed 7): 15: 3.800" in printed
    assert "cpu_h4 (seed 42): 15: 3.900, 30: 3.700, 45: 3.600\n" in printed  # step 60 is past --max-step
    assert out.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(SystemExit, match="no trainer_log.json"):
        curves([str(tmp_path), "--out", str(out)])
