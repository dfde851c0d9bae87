"""The ``scratch`` base: a tokenizer trained on the experiment's train texts and a small model.

Used when no pretrained model can be downloaded (offline machines, CI). The tokenizer is
a Unigram model like T5's; the dialogue format's markers and separator are single tokens
so that the input structure never gets split into pieces.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

from dialogue.format import MARKERS, FormatSpec
from training.experiments.config import ScratchModelConfig

PAD, EOS, UNK, BOS = "<pad>", "</s>", "<unk>", "<s>"


def train_tokenizer(texts: Iterable[str], vocab_size: int, *, causal: bool) -> PreTrainedTokenizerFast:
    """A Unigram tokenizer trained on ``texts``; Seq2Seq tokenizers append EOS like T5's."""
    specials = [PAD, EOS, UNK] + ([BOS] if causal else [])
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=specials + list(MARKERS), unk_token=UNK, show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    if not causal:  # the encoder input ends with EOS; a causal prompt must not (the reply follows it)
        eos_id = tokenizer.token_to_id(EOS)
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"$A {EOS}", pair=f"$A {EOS} $B {EOS}", special_tokens=[(EOS, eos_id)]
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token=PAD, eos_token=EOS, unk_token=UNK, bos_token=BOS if causal else None
    )
    # Ordinary (non-special) added tokens: never split, and they survive decoding of inputs.
    fast.add_tokens(list(MARKERS))
    return fast


def t5_config(sizes: ScratchModelConfig, *, vocab_size: int, pad_token_id: int, eos_token_id: int) -> T5Config:
    """The T5 shape of ``sizes`` (T5 starts decoding from the pad token)."""
    return T5Config(
        vocab_size=vocab_size,
        d_model=sizes.d_model,
        d_kv=sizes.d_model // sizes.num_heads,
        d_ff=sizes.d_ff,
        num_layers=sizes.num_layers,
        num_decoder_layers=sizes.num_layers,
        num_heads=sizes.num_heads,
        pad_token_id=pad_token_id,
        eos_token_id=eos_token_id,
        decoder_start_token_id=pad_token_id,
    )


def build_model(
    tokenizer: PreTrainedTokenizerFast, sizes: ScratchModelConfig, *, causal: bool, max_positions: int
) -> PreTrainedModel:
    """A randomly initialised T5 (Seq2Seq) or GPT-2 (CausalLM) sized by ``sizes``."""
    if causal:
        config = GPT2Config(
            vocab_size=len(tokenizer),
            n_positions=max_positions,
            n_embd=sizes.d_model,
            n_layer=sizes.num_layers,
            n_head=sizes.num_heads,
            n_inner=sizes.d_ff,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        model: PreTrainedModel = GPT2LMHeadModel(config)
    else:
        config = t5_config(sizes, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                           eos_token_id=tokenizer.eos_token_id)
        model = T5ForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def save_random_model(
    out_dir: Path, texts: Iterable[str], sizes: ScratchModelConfig, spec: FormatSpec, *,
    causal: bool = False, max_positions: int = 512, pad_vocab_to: int | None = None,
) -> Path:
    """A randomly initialised model directory that looks exactly like a trained one (tests, benchmarks).

    Weights, tokenizer (trained on ``texts``) and ``dialogue_format.json``. The output rows of
    pad/EOS/unk are zeroed, so it never stops early: every reply runs to ``max_new_tokens``,
    which keeps replies non-empty and generation lengths fixed. ``pad_vocab_to`` grows the
    vocabulary to a real model's size (the output layer then costs what a trained one's does).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    tokenizer = train_tokenizer(texts, sizes.vocab_size, causal=causal)
    model = build_model(tokenizer, sizes, causal=causal, max_positions=max_positions)
    if pad_vocab_to and pad_vocab_to > len(tokenizer):
        model.resize_token_embeddings(pad_vocab_to)
    with torch.no_grad():
        for token_id in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id):
            model.get_output_embeddings().weight[token_id].zero_()
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    spec.save(out_dir)
    return out_dir
