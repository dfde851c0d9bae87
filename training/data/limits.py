"""Length limits: the 0.95 quantile of persona-fact and utterance token lengths (``FormatSpec`` limits)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def token_lengths(texts: Sequence[str], tokenizer: Any | None) -> list[int]:
    """Token counts of ``texts`` by the model's tokenizer (batched), or whitespace words without one."""
    if tokenizer is None:
        return [len(text.split()) for text in texts]
    try:  # transformers tokenizers take a batch
        return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
    except TypeError:  # a bare `tokenizers.Tokenizer`
        return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]


def _quantile(lengths: Iterable[int], quantile: float) -> int:
    values = np.fromiter(lengths, dtype=np.int64)
    return max(1, math.ceil(float(np.quantile(values, quantile)))) if values.size else 1


def measure_limits(dataset_split: Any, tokenizer: Any | None, quantile: float = 0.95) -> dict[str, Any]:
    """``max_fact_tokens`` and ``max_utterance_tokens`` of a split (a ``datasets.Dataset`` of samples).

    Each distinct fact and each distinct utterance of a dialogue (its context and replies) counts once,
    however many samples repeat it.
    """
    if not 0.0 < quantile <= 1.0:
        raise ValueError(f"quantile must be in (0, 1], got {quantile!r}")
    facts: set[str] = set()
    utterances: set[tuple[str, str]] = set()
    columns = dataset_split.select_columns(["persona", "context", "reply", "dialogue_id"])
    for batch in columns.iter(batch_size=4096):
        for persona, context, reply, dialogue_id in zip(batch["persona"], batch["context"], batch["reply"], batch["dialogue_id"]):
            facts.update(persona)
            utterances.update((dialogue_id, u) for u in (*context, reply))
    return {
        "max_fact_tokens": _quantile(token_lengths(sorted(facts), tokenizer), quantile),
        "max_utterance_tokens": _quantile(token_lengths(sorted(u for _, u in utterances), tokenizer), quantile),
        "quantile": quantile,
        "facts": len(facts),
        "utterances": len(utterances),
        "unit": "whitespace words" if tokenizer is None else "tokenizer tokens",
    }
