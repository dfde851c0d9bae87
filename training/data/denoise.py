"""The denoising stage: rebuild the last utterance of a model input in which words are hidden.

Why: a small Seq2Seq trained from nothing on dialogue learns to ignore its encoder. Replies are
only weakly predictable from their input, so the decoder first becomes a language model of
replies and then has little reason to read (the shipped model's context gain was 0.04 nats per
token on the persona chat, docs/model_recipe.md). Here the answer *is* in the input, at a known
place (the utterance just before ``[KNOWLEDGE]`` in the GODEL format), but with a share of its words
hidden: cross-attention must carry words from the first step, and the decoder must still fill the
gaps like a language model, so that the dialogue stage would start from a model that reads its input.
Measured (docs/model_recipe.md): with the fixed-step Adafactor of the old CPU recipe it
learnt no copying in 3,500 steps; the cause was the optimizer (``adafactor_scaled``), and the stage has
not been measured with that one yet.

The inputs are the very model inputs of the dialogue task (``dialogue.FormatSpec``), so the encoder
sees the distribution it will serve; only the target differs.
"""

from __future__ import annotations

import functools
import random
from typing import Any

from dialogue import MARKERS, FormatSpec, tokenizer_truncator


def hide_words(text: str, rate: float, rng: random.Random, mask: str) -> str:
    """``text`` with each word replaced by ``mask`` with probability ``rate``; the format's markers stay,
    so the model always sees the input's structure."""
    return " ".join(
        mask if word not in MARKERS and rng.random() < rate else word for word in text.split()
    )


def denoising_texts(split: Any, spec: FormatSpec, tokenizer: Any, *, rate: float, seed: int) -> Any:
    """``split`` (with ``context`` and ``source_text``) -> source: words hidden, target: the last utterance.

    Reproducible: row ``i`` hides its words with ``random.Random(seed + i)``.
    """
    if not 0 < rate < 1:
        raise ValueError(f"the share of hidden words must be in (0, 1), got {rate}")
    mask = tokenizer.unk_token or tokenizer.pad_token
    truncate = functools.lru_cache(maxsize=1 << 17)(tokenizer_truncator(tokenizer))

    def rebuild(batch: dict[str, list], indices: list[int]) -> dict[str, list[str]]:
        return {
            "source_text": [hide_words(source, rate, random.Random(seed + index), mask)
                            for source, index in zip(batch["source_text"], indices)],
            "target_text": [spec.build_target(context[-1], truncate=truncate) for context in batch["context"]],
        }

    return split.map(rebuild, batched=True, with_indices=True, desc="denoising inputs")
