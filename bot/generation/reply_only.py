"""Repetition controls that look at the reply only (the bot's earlier replies: ``earlier_replies``).

transformers applies ``no_repeat_ngram_size`` and ``repetition_penalty`` to the whole of
``input_ids``; for a decoder-only model that is the prompt too, persona facts included. Blocking
every 3-gram of the prompt forbids «У меня есть собака» when the persona says it, and the penalty
pushes the reply away from the persona's words: the opposite of what a persona bot needs. For a
Seq2Seq model the decoder sees only the reply, so these are exactly its semantics, and CTranslate2's
(penalties on "previously generated tokens").
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList, NoRepeatNGramLogitsProcessor
from transformers import RepetitionPenaltyLogitsProcessor


class OnReply(LogitsProcessor):
    """``inner`` applied to the generated part of ``input_ids`` (after ``prompt_length`` tokens) only."""

    def __init__(self, inner: LogitsProcessor, prompt_length: int) -> None:
        self.inner = inner
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        reply = input_ids[:, self.prompt_length :]
        return scores if reply.shape[1] == 0 else self.inner(reply, scores)


def reply_only(kwargs: dict[str, Any], prompt_length: int) -> dict[str, Any]:
    """``generate()`` keyword arguments whose n-gram blocking and repetition penalty see only the reply."""
    kwargs = dict(kwargs)
    processors = LogitsProcessorList()
    if (size := kwargs.pop("no_repeat_ngram_size", 0) or 0) > 0:
        processors.append(OnReply(NoRepeatNGramLogitsProcessor(size), prompt_length))
    if (penalty := kwargs.pop("repetition_penalty", 1.0) or 1.0) != 1.0:
        processors.append(OnReply(RepetitionPenaltyLogitsProcessor(penalty), prompt_length))
    if processors:
        kwargs["logits_processor"] = processors
    return kwargs
