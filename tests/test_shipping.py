"""Shipping a model: decoding presets and their comparison, fp16 export, the model card with baselines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
import pytest
import torch
from safetensors import safe_open
from transformers import AutoTokenizer

from bot.generation import TransformersBackend
from dialogue.format import FormatSpec
from training.evaluation import decoding, evaluate, predict, report
from training.models import export
from training.models.checkpoints import save_run_files
from training.experiments.registry import get_experiment
from training.evaluation.model_card import render_model_card

ROWS = datasets.Dataset.from_dict({
    "persona": [["Я работаю врачом."], ["У меня есть собака."], ["Я живу в Москве."]],
    "context": [["Привет! Кем ты работаешь?"], ["У тебя есть животные?"], ["Где ты живёшь?"]],
    "reply": ["Я врач в больнице.", "Да, у меня собака.", "Я живу в Москве."],
})


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path) -> TransformersBackend:
    torch.set_num_threads(1)
    return TransformersBackend.load(str(tiny_model_dir))


@pytest.fixture
def run_model(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A tiny model directory with the run files of ru_mix_cpu, as training.run leaves it."""
    model_dir = Path(shutil.copytree(tiny_model_dir, tmp_path / "run" / "model"))
    save_run_files(model_dir, get_experiment("ru_mix_cpu"), FormatSpec.load(model_dir))
    return model_dir


def test_every_preset_is_valid_and_named_once() -> None:
    assert predict.DEFAULT_PRESET in predict.DECODING_PRESETS
    assert predict.decoding_preset(predict.DEFAULT_PRESET) == predict.BOT_DEFAULT  # the shipped model's (its decoding_settings.json)
    assert predict.GREEDY.min_end_probability == 0  # plain greedy
    strategies = {p.strategy for p in predict.DECODING_PRESETS.values()}
    assert strategies == {"greedy", "beam", "sampling", "contrastive"}
    assert predict.decoding_preset("contrastive-a0.6-k4").to_generate_kwargs()["contrastive_top_k"] == 4
    with pytest.raises(ValueError, match="known: greedy"):
        predict.decoding_preset("nucleus")


def test_evaluate_rejects_an_unknown_preset(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        evaluate.main(["some/model", "--decoding", "nucleus"])
    assert "invalid choice: 'nucleus'" in capsys.readouterr().err


def test_sampling_is_reproducible(backend: TransformersBackend) -> None:
    personas, contexts = list(ROWS["persona"]) * 3, list(ROWS["context"]) * 3
    sampling = predict.decoding_preset("sampling-p0.9-t0.8")
    first = predict.replies_to(backend, personas, contexts, decoding=sampling, batch_size=4)
    assert predict.replies_to(backend, personas, contexts, decoding=sampling, batch_size=4) == first
    assert predict.replies_to(backend, personas, contexts, decoding=sampling, batch_size=4, seed=1) != first


def test_decoding_comparison_table(backend: TransformersBackend, tmp_path: Path) -> None:
    results = decoding.compare_decodings(backend, ROWS, "ru")
    assert [r["preset"] for r in results] == list(predict.DECODING_PRESETS)
    assert all(r["examples"] == len(ROWS) and 0.0 <= r["f1"] <= 1.0 for r in results)
    assert all(r["decoding"]["max_new_tokens"] == backend.format.max_target_tokens for r in results)
    text = decoding.write_comparison(tmp_path, results, examples=len(ROWS))
    best = json.loads((tmp_path / decoding.DECODING_JSON).read_text())["best"]
    assert best == decoding.best_preset(results) and f"| **{best}** |" in text
    assert f"python -m training.evaluate {tmp_path} --decoding {best}" in text
    assert (tmp_path / decoding.DECODING_MD).read_text() == text


def test_the_best_preset_ranks_well_on_f1_and_chrf_together() -> None:
    results = [
        {"preset": "greedy", "f1": 0.10, "chrf": 2.0, "distinct_2": 0.01},       # ranks 1 + 4
        {"preset": "beam4", "f1": 0.09, "chrf": 4.0, "distinct_2": 0.02},        # ranks 2 + 2
        {"preset": "sampling", "f1": 0.05, "chrf": 5.0, "distinct_2": 0.50},     # ranks 4 + 1
        {"preset": "contrastive", "f1": 0.06, "chrf": 3.0, "distinct_2": 0.10},  # ranks 3 + 3
    ]
    assert decoding.best_preset(results) == "beam4"
    results.append({"preset": "beam4-norepeat3", "f1": 0.09, "chrf": 4.0, "distinct_2": 0.03})
    assert decoding.best_preset(results) == "beam4-norepeat3"  # the same ranks: the more diverse wins


def test_export_fp16_fits_loads_as_float32_and_answers(run_model: Path, tmp_path: Path) -> None:
    report.write_metrics(run_model, {"examples": 3, "f1": 0.2, "chrf": 10.0, "perplexity": 50.0})
    # The Trainer saves the tokenizer with the truncation of its last call (the reply limit): not to be shipped.
    tokenizer = AutoTokenizer.from_pretrained(run_model)
    tokenizer.backend_tokenizer.enable_truncation(max_length=8)
    tokenizer.save_pretrained(run_model)
    dest = export.export_model(run_model, tmp_path / "models" / "shipped", fp16=True)
    with safe_open(str(dest / "model.safetensors"), "pt") as weights:
        assert {weights.get_slice(k).get_dtype() for k in weights.keys()} == {"F16"}
    assert export.weights_mb(dest) < 0.6 * export.weights_mb(run_model)
    assert json.loads((dest / "metrics.json").read_text())["f1"] == 0.2
    tokenizer_file = json.loads((dest / "tokenizer.json").read_text())
    assert tokenizer_file["truncation"] is None and tokenizer_file["padding"] is None
    assert "float16" in (dest / "README.md").read_text()
    backend = TransformersBackend.load(str(dest))
    assert backend.model.dtype == torch.float32
    assert predict.replies_to(backend, [["Я врач."]], [["Привет!"]], decoding=predict.GREEDY)[0]


def test_export_refuses_too_big_weights_and_foreign_directories(run_model: Path, tmp_path: Path) -> None:
    dest = export.export_model(run_model, tmp_path / "shipped")
    before = (dest / "model.safetensors").read_bytes()
    with pytest.raises(export.ExportError, match="more than"):
        export.export_model(run_model, dest, max_mb=0.01)
    assert (dest / "model.safetensors").read_bytes() == before  # the old model stays
    (tmp_path / "notes").mkdir()
    assert export.main([str(run_model), str(tmp_path / "notes")]) == 2
    assert export.main([str(tmp_path / "notes"), str(tmp_path / "other")]) == 2


def test_model_card_compares_with_baselines_and_decodings(run_model: Path) -> None:
    report.write_metrics(run_model, {"examples": 3, "f1": 0.2, "chrf": 12.0, "perplexity": 50.0,
                                     "decoding_preset": "beam4"})
    report.write_baselines(run_model, {"retrieval": {"examples": 3, "f1": 0.1, "chrf": 13.0},
                                       "constant": {"examples": 3, "f1": 0.05, "chrf": 5.0}})
    card = render_model_card(run_model)
    assert "| metric | model | retrieval | constant |" in card
    assert "| perplexity ↓ | 50.0000 | — | — |" in card
    assert "The model beats constant on both F1 and chrF++; not retrieval." in card
    assert "Not compared yet: `python -m training.evaluation.decoding" in card
    decoding.write_comparison(run_model, [{"preset": "greedy", "f1": 0.1, "chrf": 3.0, "distinct_2": 0.1},
                                          {"preset": "beam4", "f1": 0.2, "chrf": 4.0, "distinct_2": 0.1}], examples=3)
    card = render_model_card(run_model)
    assert "3 validation examples" in card and "| **beam4** | 0.2000 | 4.0000 |" in card
    assert "The test metrics above use" not in card  # they use the best preset, beam4
    decoding.write_comparison(run_model, [{"preset": "greedy", "f1": 0.3, "chrf": 5.0, "distinct_2": 0.1},
                                          {"preset": "beam4", "f1": 0.2, "chrf": 4.0, "distinct_2": 0.1}], examples=3)
    assert "**greedy** (the bot serves the decoding of `decoding_settings.json`, the test metrics' own). The test metrics above use `beam4`." in render_model_card(run_model)
    assert "docs/model_recipe.md" in card and "CC BY-SA 4.0" in card
    assert "python -m training.run ru_mix_cpu" in card
    checks = {"decoding": {"strategy": "beam"}, "repetition": {"repeated_replies": 0, "replies": 8},
              "persona_probes": {"reflected": 1, "probes": 2, "share": 0.5, "rows": [
                  {"persona": ["Я врач."], "question": "Кем ты работаешь?", "reply": "Врачом", "reflected": True}]}}
    (run_model / "checks.json").write_text(json.dumps(checks, ensure_ascii=False), encoding="utf-8")
    card = render_model_card(run_model)
    assert "persona probes reflected 1/2 (50%)" in card and "(beam; `checks.json` has every reply)" in card
    assert "| Я врач. | Кем ты работаешь? | Врачом | yes |" in card
    checks["decoding"] = {"strategy": "greedy", "min_end_probability": 0.5}
    (run_model / "checks.json").write_text(json.dumps(checks, ensure_ascii=False), encoding="utf-8")
    assert "(greedy, ending a reply only where its end is at least 0.5 likely;" in render_model_card(run_model)


def test_the_card_of_a_later_stage_names_the_data_of_every_stage(run_model: Path) -> None:
    save_run_files(run_model, get_experiment("ru_mix"), FormatSpec.load(run_model))
    card = render_model_card(run_model)
    first, second = card.index("Stage 1 (`ru_mix_stage1`), hypothesis `h5_causal`"), card.index("Stage 2 (`ru_mix_stage2`)")
    third = card.index("Stage 3 (`ru_mix`)")
    assert first < card.index("| cornell | 0.15 | CC0 1.0 |") < second < third  # the mix's licences bind the weights too
    assert "replies that give the speaker a name their persona lacks left out" in card[second:third]
    assert "replies that ignore the statement they answer left out" in card[third:]


def test_context_gain_compares_each_input_with_a_different_one() -> None:
    from training.evaluation.predict import _other_sources

    sources = ["a", "a", "b", "c"]
    others = _other_sources(sources)
    assert others is not None and all(o != s for s, o in zip(sources, others))
    assert _other_sources(["a", "a"]) is None  # nothing to compare with: context_gain is nan
