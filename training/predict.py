"""A trained model directory on test samples: generated replies and perplexity.

Replies come from the bot's own ``TransformersBackend`` and inputs are built by the
directory's ``dialogue_format.json``, exactly as the bot builds them: what is scored is
what would be served.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch

from bot.config import DecodingSettings
from bot.generation import TransformersBackend
from dialogue.format import tokenizer_truncator
from training import features

GREEDY = DecodingSettings(strategy="greedy", max_new_tokens=40, no_repeat_ngram_size=3, repetition_penalty=1.2)
"""Deterministic decoding, so metrics are reproducible; n-gram blocking as the bot does."""


def load_backend(model_dir: Path) -> TransformersBackend:
    return TransformersBackend.load(str(model_dir))


def build_inputs(
    backend: TransformersBackend, personas: Sequence[Sequence[str]], contexts: Sequence[Sequence[str]]
) -> list[str]:
    truncate = tokenizer_truncator(backend.tokenizer)
    return [backend.format.build_input(p, c, truncate=truncate) for p, c in zip(personas, contexts)]


def generate(
    backend: TransformersBackend, inputs: Sequence[str], *, batch_size: int = 16, decoding: DecodingSettings = GREEDY
) -> list[str]:
    replies: list[str] = []
    for start in range(0, len(inputs), batch_size):
        replies += backend.generate(list(inputs[start : start + batch_size]), decoding)
    return replies


@torch.inference_mode()
def perplexity(backend: TransformersBackend, texts, *, batch_size: int = 16) -> float:
    """exp of the mean per-token loss of the reference replies (``texts``: source_text/target_text)."""
    tokenizer, model = backend.tokenizer, backend.model
    tokenized = features.tokenize_split(texts, tokenizer, backend.format, desc="tokenize test")
    collate = features.collator(tokenizer, model)
    # Pad on the right as in training: GPT-2 positions do not skip left padding here.
    padding_side, tokenizer.padding_side = tokenizer.padding_side, "right"
    total_loss, total_tokens = 0.0, 0
    try:
        for start in range(0, len(tokenized), batch_size):
            batch = collate([tokenized[i] for i in range(start, min(start + batch_size, len(tokenized)))])
            loss = model(**batch.to(model.device)).loss
            labels = batch["labels"] if model.config.is_encoder_decoder else batch["labels"][:, 1:]
            tokens = int((labels != features.IGNORE_INDEX).sum())
            total_loss += float(loss) * tokens
            total_tokens += tokens
    finally:
        tokenizer.padding_side = padding_side
    return math.exp(total_loss / max(total_tokens, 1))
