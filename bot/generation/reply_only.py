"""Repetition controls that look at the reply only, and one that keeps a reply from repeating the bot.

transformers applies ``no_repeat_ngram_size`` and ``repetition_penalty`` to the whole of
``input_ids``; for a decoder-only model that is the prompt too, persona facts included. Blocking
every 3-gram of the prompt forbids «У меня есть собака» when the persona says it, and the penalty
pushes the reply away from the persona's words: the opposite of what a persona bot needs. For a
Seq2Seq model the decoder sees only the reply, so these are exactly its semantics, and CTranslate2's
(penalties on "previously generated tokens").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList, NoRepeatNGramLogitsProcessor
from transformers import RepetitionPenaltyLogitsProcessor

from dialogue.format import words_only


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


def earlier_ngrams(tokenizer, replies: Sequence[str], n: int, *, prefix: str = "", eos: int | None = None,
                   free: Sequence[str] = ()) -> dict:
    """``{(tokens): {next tokens}}``: the n-grams of ``replies`` as the model writes them (``prefix`` + text +
    EOS), each one's last token after the ones before it. A reply of fewer than n tokens is one n-gram from
    ``START`` to its end, so that no earlier reply, however short, can come again whole.

    The n-grams of ``free`` (the persona's facts) are left out while one earlier reply holds them: a fact the bot
    volunteered may be said once more when asked («Я живу в Казани»), where banning it bent the words round the
    ban («в Казане»); said twice, it is banned, so that it does not answer every question. The n-grams that end
    a reply are never a fact's, so an earlier reply still cannot come again token for token (the backends check
    its words too: ``repeats_earlier``)."""
    def tokens(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    def ngrams(ids: list[int], size: int) -> set[tuple[int, ...]]:
        return {tuple(ids[i : i + size]) for i in range(len(ids) - size + 1)}

    facts: set[tuple[int, ...]] = set()
    for fact in free:  # as a reply's first words, and after others
        facts |= ngrams([START, *tokens(prefix + fact)], n) | ngrams(tokens(" " + fact), n)
    said = [[START, *tokens(prefix + reply), *([eos] if eos is not None else [])] for reply in replies]
    holders = Counter(gram for ids in said for gram in ngrams(ids, n))  # how many earlier replies hold each
    grams: dict[tuple[int, ...], set[int]] = {}
    for ids in said:
        size = min(n, len(ids))
        for gram in ngrams(ids, size):
            if gram not in facts or holders[gram] > 1:
                grams.setdefault(gram[:-1], set()).add(gram[-1])
    return grams


def repeats_earlier(reply: str, replies: Sequence[str]) -> bool:
    """Whether ``reply`` says an earlier reply again, in its words (punctuation and case aside)."""
    return words_only(reply) in {words_only(earlier) for earlier in replies}


class NoRepeatOfEarlier(LogitsProcessor):
    """No n-gram of the bot's own earlier replies in this dialogue (one ``earlier_ngrams`` dict per request;
    beams and returned sequences of a request share it). The user's words stay free, and the persona's
    (``earlier_ngrams``' ``free``, while one earlier reply holds them): the bot may say a fact once more, but
    not the same reply twice."""

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
