"""Decoding rules: what shapes a reply token by token beyond what the engines do by themselves.

A rule is one small class. At each step of a reply it names the tokens the reply may not take next, given the
request the reply answers, the reply's tokens so far and, for a rule that judges them (``needs_scores``), the
next token's scores as the engine picks from them (every earlier rule applied); or it says that the reply ends
there (``ends``: only an end token may follow, whatever the other rules say). ``decoding_rules`` builds the
ordered list for a batch of requests from ``RULES``; each backend applies the whole list through one adapter:

* transformers: ``RulesProcessor``, one logits processor that gives every forbidden token a score of -inf;
* CTranslate2, which has no logits processors: ``CTranslate2Backend`` stops the engine at the first token the
  rules forbid or the first step where they end the reply (a step callback), cuts a reply where they end it
  (``ending``), reads the result again step by step (``first_broken``) and generates again where a forbidden
  token was taken, that token suppressed after the reply's tokens before it; a bounded number of engine calls,
  and a reply that still breaks a rule then ends before the word that breaks it (logged).

Adding a rule is one class here and its place in ``RULES``. What the engines do by themselves (n-gram blocking and
the repetition penalty on the reply, ``reply_only``; the stop tokens; beams; sampling) is passed on as options.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
from transformers import LogitsProcessor

from bot.config import DecodingSettings
from bot.generation.earlier_replies import TokenWords, WordGrams, earlier_ngrams, merged, repeats_earlier
from dialogue.format import words_only
from dialogue.russian import sentences


@dataclass(frozen=True)
class Requests:
    """What the rules of one batch are built from: the decoding, and per request the bot's earlier replies in
    the dialogue, its persona facts, more word n-grams to keep out (``QUESTION_BACK``) and how many sentences its
    reply may say (None: no limit)."""

    tokenizer: Any
    words: Callable[[], TokenWords]
    """The tokenizer's ``TokenWords`` (built at first use: it decodes the whole vocabulary)."""
    end_ids: tuple[int, ...]
    """The tokens that end a reply: EOS, and for a CausalLM the line breaks."""
    decoding: DecodingSettings
    count: int
    earlier: Sequence[Sequence[str]] | None = None
    persona: Sequence[Sequence[str]] | None = None
    keep_out: Sequence[WordGrams] | None = None
    max_sentences: Sequence[int | None] | None = None
    openings: Sequence[str] | None = None
    """Per request, what its reply says before the model's words: the opening the input ends with."""


def requests_for(backend: Any, decoding: DecodingSettings, count: int, earlier: Sequence[Sequence[str]] | None = None,
                 persona: Sequence[Sequence[str]] | None = None, keep_out: Sequence[WordGrams] | None = None,
                 max_sentences: Sequence[int | None] | None = None, openings: Sequence[str] | None = None) -> Requests:
    """The ``Requests`` of ``count`` inputs to ``backend`` (its tokenizer, ``token_words`` and ``end_ids``)."""
    return Requests(backend.tokenizer, lambda: backend.token_words, backend.end_ids, decoding, count, earlier, persona,
                    keep_out, max_sentences, openings)


class DecodingRule(ABC):
    """One rule on the next token of a reply."""

    needs_scores: ClassVar[bool] = False
    """Whether ``forbidden`` reads the step's scores (CTranslate2 then returns them: slower)."""

    @classmethod
    @abstractmethod
    def build(cls, requests: Requests) -> DecodingRule | None:
        """The rule for these requests, or None where it has nothing to do."""

    @abstractmethod
    def forbidden(self, request: int, reply: Sequence[int], scores: torch.Tensor | None) -> Collection[int]:
        """The tokens the reply to ``request`` may not take after its tokens ``reply``; ``scores`` (the
        vocabulary's, as the engine picks from them) only for a rule that ``needs_scores``."""

    def ends(self, request: int, reply: Sequence[int]) -> bool:
        """Whether the reply to ``request`` ends after its tokens ``reply``: only an end token may follow."""
        return False


class KeepOutWords(DecodingRule):
    """No word n-gram of the bot's own earlier replies in the dialogue, nor of ``keep_out`` (a question back where
    a person would not ask one). A token is forbidden where its letters would begin a banned word, in any case
    (``TokenWords``): the model has to choose another word, not another spelling of it. The user's words stay
    free, and the persona's while one earlier reply holds them (``earlier_ngrams``): the bot may say a fact once
    more, not the same reply twice."""

    def __init__(self, grams: Sequence[WordGrams], tokenizer: Any, words: TokenWords) -> None:
        self.grams, self.tokenizer, self.words = list(grams), tokenizer, words
        self.lengths = [sorted({len(context) for context in g}) for g in self.grams]

    @classmethod
    def build(cls, requests: Requests) -> KeepOutWords | None:
        grams = kept_out(requests)
        return cls(grams, requests.tokenizer, requests.words()) if any(grams) else None

    def forbidden(self, request: int, reply: Sequence[int], scores: torch.Tensor | None) -> Collection[int]:
        if not self.grams[request]:
            return ()
        text = self.tokenizer.decode(list(reply), skip_special_tokens=True)
        return self.words.banned(text, self.grams[request], self.lengths[request])


def kept_out(requests: Requests) -> list[WordGrams]:
    """Per request, the word n-grams its reply may not hold: its earlier replies' (but the persona's, ``free``)
    and ``keep_out``'s."""
    rows, n = requests.count, requests.decoding.no_repeat_earlier_ngram_size
    earlier = requests.earlier or [()] * rows
    persona = requests.persona or [()] * rows
    keep_out = requests.keep_out or [{}] * rows
    return [merged(earlier_ngrams(replies, n, free=facts) if replies else {}, extra)
            for replies, facts, extra in zip(earlier, persona, keep_out, strict=True)]


class SaysAWord(DecodingRule):
    """A reply does not end before it holds a word (a letter or a digit), its opening counted (``Requests.openings``:
    after «Пока!» the model may add nothing): an empty reply is no reply, and one of punctuation alone («!!!», «)))»)
    is invisible to the earlier-reply ban, which reads words, so it could be sent twice in a row."""

    def __init__(self, end_ids: Sequence[int], tokenizer: Any, openings: Sequence[str] | None = None) -> None:
        self.end_ids, self.tokenizer = sorted(set(end_ids)), tokenizer
        self.opened = [bool(words_only(opening)) for opening in openings] if openings else None

    @classmethod
    def build(cls, requests: Requests) -> SaysAWord | None:
        rule = cls(requests.end_ids, requests.tokenizer, requests.openings)
        return None if rule.opened and all(rule.opened) else rule

    def forbidden(self, request: int, reply: Sequence[int], scores: torch.Tensor | None) -> Collection[int]:
        if self.opened and self.opened[request]:
            return ()
        said = self.tokenizer.decode(list(reply), skip_special_tokens=True) if reply else ""
        return () if words_only(said) else self.end_ids


class EndOnlyWhenLikely(DecodingRule):
    """Greedy ends a reply only where its end is likely, not merely the most likely next token.

    Plain greedy stops wherever the end (EOS, or a line break for a CausalLM) is the single most likely next
    token. After a short answer («Я работаю инженером») it often is, with 0.3 of the probability while the other
    0.7 goes on saying more, spread over many ways to say it; so greedy replies come out shorter than people's.
    Here the end tokens together must be at least ``probability`` likely (``DecodingSettings.min_end_probability``);
    elsewhere they are forbidden and the next most likely token is taken. The model still stops at once where it
    is sure («Привет! Как дела?»), unlike a minimum length. Greedy only: sampling draws the end by its own
    probability already."""

    needs_scores = True

    def __init__(self, end_ids: Sequence[int], probability: float) -> None:
        self.end_ids = sorted(set(end_ids))
        self.probability = probability

    @classmethod
    def build(cls, requests: Requests) -> EndOnlyWhenLikely | None:
        decoding = requests.decoding
        if decoding.strategy != "greedy" or decoding.min_end_probability <= 0:
            return None
        return cls(requests.end_ids, decoding.min_end_probability)

    def forbidden(self, request: int, reply: Sequence[int], scores: torch.Tensor | None) -> Collection[int]:
        assert scores is not None
        likely = torch.softmax(scores.float(), dim=-1)[self.end_ids].sum().item() >= self.probability
        return () if likely else self.end_ids


class SentenceLimit(DecodingRule):
    """A reply ends once it has begun one sentence more than its request allows (``Requests.max_sentences``): the bot
    sends at most that many (``turns.finish`` cuts the one begun), so the model does not write the rest of it. The
    end comes at the first token of that sentence, not at the stop before it: a stop is known to end a sentence
    only when the next word begins (razdel, as ``turns`` counts sentences)."""

    def __init__(self, limits: Sequence[int | None], tokenizer: Any) -> None:
        self.limits, self.tokenizer = list(limits), tokenizer

    @classmethod
    def build(cls, requests: Requests) -> SentenceLimit | None:
        limits = requests.max_sentences
        return cls(limits, requests.tokenizer) if limits and any(limits) else None

    def forbidden(self, request: int, reply: Sequence[int], scores: torch.Tensor | None) -> Collection[int]:
        return ()

    def ends(self, request: int, reply: Sequence[int]) -> bool:
        limit = self.limits[request]
        return bool(limit and reply) and len(sentences(self.tokenizer.decode(list(reply), skip_special_tokens=True))) > limit


RULES: tuple[type[DecodingRule], ...] = (KeepOutWords, SaysAWord, EndOnlyWhenLikely, SentenceLimit)
"""Every decoding rule. A rule that reads the scores judges them after every rule that does not, as greedy picks
from them (CTranslate2's returned scores already hold the tokens it was told to suppress)."""


def decoding_rules(requests: Requests) -> list[DecodingRule]:
    """The rules that apply to these requests: those that read no scores first, each group in ``RULES``' order."""
    built = [rule for kind in RULES if (rule := kind.build(requests)) is not None]
    return sorted(built, key=lambda rule: rule.needs_scores)


def must_end(rules: Sequence[DecodingRule], request: int, reply: Sequence[int]) -> bool:
    """Whether a rule ends the reply after its tokens ``reply``."""
    return any(rule.ends(request, reply) for rule in rules)


def ending(rules: Sequence[DecodingRule], request: int, reply: Sequence[int]) -> int | None:
    """How many of the tokens of ``reply`` are before the step where the rules end it; None if they never do."""
    return next((step for step in range(1, len(reply)) if must_end(rules, request, reply[:step])), None)


def apply_rules(rules: Sequence[DecodingRule], request: int, reply: Sequence[int],
                scores: torch.Tensor | None) -> set[int]:
    """Every token the rules forbid after ``reply``; ``scores`` (one row, if given) get -inf where forbidden, so
    that each rule judges what the ones before it left."""
    forbidden: set[int] = set()
    for rule in rules:
        tokens = rule.forbidden(request, reply, scores if rule.needs_scores else None)
        if tokens:
            forbidden.update(tokens)
            if scores is not None:
                scores[sorted(tokens)] = -float("inf")
    return forbidden


class RulesProcessor(LogitsProcessor):
    """The rules as one transformers logits processor: the reply is what follows ``reply_start`` in each row
    (beams and returned sequences of a request share its rules); where a rule ends it, only ``end_ids`` remain."""

    def __init__(self, rules: Sequence[DecodingRule], requests: int, reply_start: int, end_ids: Sequence[int]) -> None:
        self.rules, self.requests, self.reply_start = list(rules), requests, reply_start
        self.end_ids = sorted(set(end_ids))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        per_request = input_ids.shape[0] // self.requests
        for row in range(input_ids.shape[0]):
            reply = input_ids[row, self.reply_start :].tolist()
            if must_end(self.rules, row // per_request, reply):
                ends = scores[row, self.end_ids].clone()
                scores[row] = -float("inf")
                scores[row, self.end_ids] = ends if torch.isfinite(ends).any() else 0.0
            else:
                apply_rules(self.rules, row // per_request, reply, scores[row])
        return scores


def first_broken(rules: Sequence[DecodingRule], request: int, reply: Sequence[int], ended: bool, end_ids: Collection[int],
                 step_scores: Callable[[int], torch.Tensor] | None = None) -> tuple[int, set[int]] | None:
    """Where the finished ``reply`` (token ids, no longer than the rules let it be: ``ending``) first took a token
    the rules forbid, and what they forbid there; None if it obeys them. A reply that ``ended`` took one of
    ``end_ids`` after its last token. ``step_scores`` gives a step's scores, for rules that read them."""
    scored = any(rule.needs_scores for rule in rules)
    for step in range(len(reply) + ended):
        if step == len(reply) and must_end(rules, request, reply):
            return None
        scores = step_scores(step).clone() if scored and step_scores else None
        forbidden = apply_rules(rules, request, reply[:step], scores)
        taken = {reply[step]} if step < len(reply) else set(end_ids)
        if forbidden & taken:
            return step, forbidden
    return None


def generate_obeying(backend: Any, inputs: list[str], decoding: DecodingSettings,
                     earlier: Sequence[Sequence[str]] | None = None, *, persona: Sequence[Sequence[str]] | None = None,
                     per_input: int = 1, keep_out: Sequence[WordGrams] | None = None,
                     max_sentences: Sequence[int | None] | None = None,
                     openings: Sequence[str] | None = None) -> list[str]:
    """Both backends' ``generate``: ``backend.generate_under`` with the rules built for these requests.
    The persona's words are free of the earlier-reply ban, so a reply made of them could say an earlier reply again
    with other punctuation («Я живу в Казани» after «Я живу в Казани.»): such a request goes again under the full
    ban."""
    requests = requests_for(backend, decoding, len(inputs), earlier, persona, keep_out, max_sentences, openings)
    replies = backend.generate_under(inputs, decoding, decoding_rules(requests), per_input)
    if earlier and persona:
        again = [i for i in range(len(inputs))
                 if any(repeats_earlier(r, earlier[i]) for r in replies[i * per_input : (i + 1) * per_input])]
        if again:
            redo = replace(requests, count=len(again), earlier=[earlier[i] for i in again], persona=None,
                           keep_out=[keep_out[i] for i in again] if keep_out else None,
                           max_sentences=[max_sentences[i] for i in again] if max_sentences else None,
                           openings=[openings[i] for i in again] if openings else None)
            redone = backend.generate_under([inputs[i] for i in again], decoding, decoding_rules(redo), per_input)
            for k, i in enumerate(again):
                replies[i * per_input : (i + 1) * per_input] = redone[k * per_input : (k + 1) * per_input]
    return replies
