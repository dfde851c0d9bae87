"""The bot's earlier replies kept out of a new one, by their words.

A ban on the earlier replies' *token* n-grams is got round by spelling: «Пироги» for «пироги» (another token, the same word), «печ» + «ить», «врачем» for «врачом»;
and after one reply ending «…, а ты?» every later one asked back «а тебя?», the comma, «а» and «ты» being
a banned 3-gram wherever they came. Here the n-grams are of words (``words_only``: lower-cased,
punctuation aside), and at each step a token is banned when the word it starts or goes on with could
only become a banned word: its letters are a beginning of that word, in any case. The model has to
choose another word, not another spelling of it, and «а ты» after other words is a new n-gram. The rule that
keeps them out in both backends is ``rules.KeepOutWords``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from dialogue.format import words_only

START = ""
"""Stands before a reply's first word in the n-grams (no word is empty): a reply's opening counts too."""
_LEAD = re.compile(r"(\W*)(\w*)")
_WORD_END = re.compile(r"\w")


WordGrams = dict[tuple[str, ...], set[str]]
"""Word n-grams to keep out of a reply: ``{(words before): {words that may not follow them}}``."""


def earlier_ngrams(replies: Sequence[str], n: int, *, free: Sequence[str] = ()) -> WordGrams:
    """``{(words): {next words}}``: the word n-grams of ``replies`` after ``START``, each one's last word after
    the ones before it. A reply of fewer than n - 1 words is one n-gram from ``START``, banned whole.

    The n-grams of ``free`` (the persona's facts) are left out while one earlier reply holds them: a fact the bot
    volunteered may be said once more when asked («Я живу в Казани»); said twice, it is banned, so that it does not
    answer every question. A reply made of free n-grams could say an earlier reply again: ``rules.generate_obeying``
    checks that with ``repeats_earlier`` and generates it again under the full ban."""
    def ngrams(words: list[str], size: int) -> set[tuple[str, ...]]:
        return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}

    facts: set[tuple[str, ...]] = set()
    for fact in free:  # as a reply's first words, and after others
        words = words_only(fact).split()
        facts |= ngrams([START, *words], n) | ngrams(words, n)
    said = [[START, *words_only(reply).split()] for reply in replies]
    holders = Counter(gram for words in said for gram in ngrams(words, n))  # how many earlier replies hold each
    grams: WordGrams = {}
    for words in said:
        for gram in ngrams(words, min(n, len(words))) if len(words) > 1 else ():
            if gram not in facts or holders[gram] > 1:
                grams.setdefault(gram[:-1], set()).add(gram[-1])
    return grams


def merged(*grams: WordGrams) -> WordGrams:
    """One ban of several: for each context, every word any of them keeps out."""
    out: WordGrams = {}
    for part in grams:
        for context, words in part.items():
            out.setdefault(context, set()).update(words)
    return out


_YOU = {"ты", "тебя", "тебе", "твой", "твоя", "твоё", "твое", "твои"}
_ASKED = ("как", "что", "чем", "где", "кем", "кто", "сколько", "какой", "какая", "какое", "какие", "откуда", "куда",
          "когда")
QUESTION_BACK: WordGrams = {
    ("а",): _YOU,
    ("а", "у"): {"тебя"},
    **{("а", asked): _YOU for asked in _ASKED},
    **{("а", asked, "у"): {"тебя"} for asked in _ASKED},
}
"""A question back, «а ты?», «а у тебя?», «а чем ты …?», «а сколько у тебя?»: kept out of a reply where a person would
not ask one (``bot.generation.turns``), so the model says something else instead of a shorter reply being sent. Not
«а вы»: a token is kept out when its letters could begin a banned word, and «в» begins «вы» (the ban would take «а в
…»)."""


def repeats_earlier(reply: str, replies: Sequence[str]) -> bool:
    """Whether ``reply`` says an earlier reply again, in its words (punctuation and case aside)."""
    return words_only(reply) in {words_only(earlier) for earlier in replies}


class TokenWords:
    """What each token of a vocabulary does to the words of a text: the letters it adds (its leading word
    characters, lower-cased) and whether they start a new word (a space or punctuation before them) or go on
    with the word the text ends in. Built once per tokenizer, by decoding each token after a fixed one, so it
    holds for any tokenizer (SentencePiece, byte-level BPE, WordPiece)."""

    def __init__(self, tokenizer: Any) -> None:
        anchor = tokenizer("a", add_special_tokens=False)["input_ids"][:1]
        shown = tokenizer.decode(anchor)
        texts = tokenizer.batch_decode([[*anchor, token] for token in range(len(tokenizer))], skip_special_tokens=True)
        self.starting: dict[str, list[int]] = {}
        """letters -> the tokens that start a new word with them"""
        self.going_on: dict[str, list[int]] = {}
        """letters -> the tokens that go on with the text's last word by them, if it ends in a word"""
        for token, text in enumerate(texts):
            before, letters = _LEAD.match(text[len(shown) :] if text.startswith(shown) else text).groups()
            if letters:
                (self.starting if before else self.going_on).setdefault(letters.lower(), []).append(token)

    def banned(self, text: str, grams: WordGrams, lengths: Sequence[int]) -> set[int]:
        """The tokens that, after the reply ``text``, would begin a word banned by ``grams`` (contexts of
        ``lengths`` words)."""
        words = [START, *words_only(text).split()]
        partial = words.pop() if len(words) > 1 and _WORD_END.match(text[-1:]) else ""  # the word may go on

        def following(context: list[str]) -> set[str]:
            return {word for length in lengths if length <= len(context)
                    for word in grams.get(tuple(context[len(context) - length :]), ())}

        tokens: set[int] = set()
        for word in following(words + [partial] if partial else words):  # a new word after the last
            for end in range(1, len(word) + 1):
                tokens.update(self.starting.get(word[:end], ()))
                if not partial:  # nothing to go on with: a token without a space starts a word too
                    tokens.update(self.going_on.get(word[:end], ()))
        for word in following(words) if partial else ():  # the last word going on
            if word.startswith(partial):
                for end in range(len(partial) + 1, len(word) + 1):
                    tokens.update(self.going_on.get(word[len(partial) : end], ()))
        return tokens
