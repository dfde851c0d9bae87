"""Repetition controls that look at the reply only, and one that keeps a reply from repeating the bot.

transformers applies ``no_repeat_ngram_size`` and ``repetition_penalty`` to the whole of
``input_ids``; for a decoder-only model that is the prompt too, persona facts included. Blocking
every 3-gram of the prompt forbids «У меня есть собака» when the persona says it, and the penalty
pushes the reply away from the persona's words: the opposite of what a persona bot needs. For a
Seq2Seq model the decoder sees only the reply, so these are exactly its semantics, and CTranslate2's
(penalties on "previously generated tokens").
"""

from __future__ import annotations

from collections.abc import Sequence
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


START = -1
"""Stands before a reply's first token in the n-grams of ``NoRepeatOfEarlier``: a short reply's start counts too."""


def earlier_ngrams(tokenizer, replies: Sequence[str], n: int, *, prefix: str = "", eos: int | None = None) -> dict:
    """``{(tokens): {next tokens}}``: the n-grams of ``replies`` as the model writes them (``prefix`` + text +
    EOS), each one's last token after the ones before it. A reply of fewer than n tokens is one n-gram from
    ``START`` to its end, so that no earlier reply, however short, can come again whole."""
    grams: dict[tuple[int, ...], set[int]] = {}
    for reply in replies:
        ids = [START, *tokenizer(prefix + reply, add_special_tokens=False)["input_ids"]]
        ids += [eos] if eos is not None else []
        size = min(n, len(ids))
        for i in range(len(ids) - size + 1):
            grams.setdefault(tuple(ids[i : i + size - 1]), set()).add(ids[i + size - 1])
    return grams


class NoRepeatOfEarlier(LogitsProcessor):
    """No n-gram of the bot's own earlier replies in this dialogue (one ``earlier_ngrams`` dict per request;
    beams and returned sequences of a request share it). Persona facts and the user's words stay free:
    the bot may use its persona again, in other words, but not say the same thing twice."""

    def __init__(self, banned: Sequence[dict], prompt_length: int) -> None:
        self.banned, self.prompt_length = list(banned), prompt_length
        self.context_lengths = [sorted({len(context) for context in grams}) for grams in self.banned]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        per_request = input_ids.shape[0] // len(self.banned)
        for row in range(input_ids.shape[0]):
            grams, lengths = self.banned[row // per_request], self.context_lengths[row // per_request]
            reply = [START, *input_ids[row, self.prompt_length :].tolist()]
            for length in lengths:  # a short earlier reply's n-gram is shorter than the others
                if length <= len(reply) and (tokens := grams.get(tuple(reply[len(reply) - length :]))):
                    scores[row, list(tokens)] = -float("inf")
        return scores
