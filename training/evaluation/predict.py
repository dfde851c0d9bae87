"""A trained model directory on test samples: generated replies and perplexity.

Replies come from the bot's own ``TransformersBackend`` and inputs are built by the
directory's ``dialogue_format.json``, exactly as the bot builds them: what is scored is
what would be served.
"""

from __future__ import annotations

import math
from dataclasses import replace
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from bot.config import DecodingSettings
from bot.generation import TransformersBackend
from bot.generation.turns import Turn, compose
from training.data import features

GREEDY = DecodingSettings(strategy="greedy", max_new_tokens=40, no_repeat_ngram_size=3, repetition_penalty=1.2,
                          min_end_probability=0.0)
"""Plain greedy (it ends a reply wherever the end is the most likely token), n-gram blocking as the bot does:
deterministic, so metrics are reproducible."""

_PLAIN = {"no_repeat_ngram_size": 0, "repetition_penalty": 1.0}
DECODING_PRESETS: dict[str, DecodingSettings] = {
    "greedy": replace(GREEDY, **_PLAIN),
    "greedy-norepeat3": replace(GREEDY, repetition_penalty=1.0),
    "greedy-norepeat3-penalty1.2": GREEDY,
    "greedy-norepeat3-penalty1.2-min10": replace(GREEDY, min_new_tokens=10),
    "greedy-norepeat3-penalty1.2-end0.4": replace(GREEDY, min_end_probability=0.4),
    "greedy-norepeat3-penalty1.2-end0.5": replace(GREEDY, min_end_probability=0.5),
    "greedy-norepeat3-penalty1.2-end0.6": replace(GREEDY, min_end_probability=0.6),
    "beam4": replace(GREEDY, strategy="beam", num_beams=4, **_PLAIN),
    "beam4-norepeat3": replace(GREEDY, strategy="beam", num_beams=4, repetition_penalty=1.0),
    "beam4-norepeat3-penalty1.2-length2": replace(GREEDY, strategy="beam", num_beams=4, length_penalty=2.0),
    "sampling-p0.9-t0.8": replace(GREEDY, strategy="sampling", top_p=0.9, top_k=50, temperature=0.8),
    "contrastive-a0.6-k4": replace(GREEDY, strategy="contrastive", penalty_alpha=0.6, contrastive_top_k=4),
}
"""The decoding settings compared on the validation split (``python -m training.evaluation.decoding``), by name.

Sampling and contrastive keep the bot's n-gram blocking and repetition penalty (its defaults).
"""
DEFAULT_PRESET = "greedy-norepeat3-penalty1.2-end0.6"
"""The evaluation's default decoding: greedy that ends a reply only where its end is at least 0.6 likely, the shipped
model's best preset on the validation split (its ``decoding.md``) and the one its ``decoding_settings.json`` holds."""
BOT_DEFAULT = DECODING_PRESETS[DEFAULT_PRESET]
SAMPLING_SEED = 0
"""``torch.manual_seed`` before generating: sampled replies, hence their metrics, are reproducible."""


def decoding_preset(name: str) -> DecodingSettings:
    try:
        return DECODING_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown decoding preset {name!r}; known: {', '.join(DECODING_PRESETS)}") from None


def load_backend(model_dir: Path) -> TransformersBackend:
    return TransformersBackend.load(str(model_dir))


def replies_to(
    backend, personas: Sequence[Sequence[str]], contexts: Sequence[Sequence[str]], *, batch_size: int = 16,
    decoding: DecodingSettings = GREEDY, seed: int = SAMPLING_SEED, partners: Sequence[Sequence[str]] | None = None,
) -> list[str]:
    """The bot's replies to each (persona, context), in batches, composed as the Generator composes them
    (``bot.generation.turns.compose``: the opening the facts settle, turn-taking, earlier replies kept out);
    ``partners``: per row, what the bot knows of the other speaker."""
    torch.manual_seed(seed)
    turns = [Turn(tuple(p), tuple(c), tuple(partners[i]) if partners else ())
             for i, (p, c) in enumerate(zip(personas, contexts, strict=True))]
    replies: list[str] = []
    for start in tqdm(range(0, len(turns), batch_size), desc=f"replies ({decoding.strategy})", unit="batch",
                      disable=len(turns) <= batch_size):
        replies += compose(backend, turns[start : start + batch_size], decoding)
    return replies


def perplexity(backend: TransformersBackend, texts, *, batch_size: int = 16) -> float:
    """exp of the mean per-token loss of the reference replies (``texts``: source_text/target_text)."""
    return perplexities(backend, texts, batch_size=batch_size)[0]


def perplexities(backend: TransformersBackend, texts, *, batch_size: int = 16) -> tuple[float, float]:
    """Per token and per word (+1 per reply for its end) of the reference replies. Only the second is
    comparable between models with different tokenizers (Gemma spends fewer tokens per Russian word)."""
    nats, tokens = reply_loss(backend, texts, batch_size=batch_size)
    words = sum(len(text.split()) + 1 for text in texts["target_text"])
    return math.exp(nats / max(tokens, 1)), math.exp(nats / max(words, 1))


@torch.inference_mode()
def reply_loss(backend: TransformersBackend, texts, *, batch_size: int = 16) -> tuple[float, int]:
    """Total loss (nats) of the reference replies and how many tokens it is over."""
    tokenizer, model = backend.tokenizer, backend.model
    tokenized = features.tokenize_split(texts, tokenizer, backend.format, desc="tokenize test")
    collate = features.collator(tokenizer, model)
    # Pad on the right as in training: GPT-2 positions do not skip left padding here.
    padding_side, tokenizer.padding_side = tokenizer.padding_side, "right"
    total_loss, total_tokens = 0.0, 0
    try:
        for start in tqdm(range(0, len(tokenized), batch_size), desc="reply loss", unit="batch",
                          disable=len(tokenized) <= batch_size):
            batch = collate([tokenized[i] for i in range(start, min(start + batch_size, len(tokenized)))])
            loss = model(**batch.to(model.device)).loss
            labels = batch["labels"] if model.config.is_encoder_decoder else batch["labels"][:, 1:]
            tokens = int((labels != features.IGNORE_INDEX).sum())
            total_loss += float(loss) * tokens
            total_tokens += tokens
    finally:
        tokenizer.padding_side = padding_side
    return total_loss, total_tokens


def context_gain(backend: TransformersBackend, texts, own_perplexity: float, *, batch_size: int = 16) -> float:
    """How much the model uses its input: the reply loss (nats per token) when each input is another row's,
    minus the loss with its own input (``own_perplexity``: ``perplexity`` of the same ``texts``, already
    computed by the caller). Near 0, the persona and the dialogue barely change the reply."""
    others = _other_sources(list(texts["source_text"]))
    if others is None:
        return float("nan")
    swapped = texts.remove_columns("source_text").add_column("source_text", others)
    return math.log(perplexity(backend, swapped, batch_size=batch_size)) - math.log(own_perplexity)


def _other_sources(sources: list[str]) -> list[str] | None:
    """For each source, the first different one from half-way round the list on; None if all are equal."""
    n, others = len(sources), []
    for i, source in enumerate(sources):
        candidates = (sources[(i + n // 2 + k) % n] for k in range(n))
        other = next((candidate for candidate in candidates if candidate != source), None)
        if other is None:
            return None
        others.append(other)
    return others
