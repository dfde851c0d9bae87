"""Russian words for the conversation's own logic: lemmas, negation, the speaker's person.

pymorphy3 gives lemmas and inflection, razdel (natasha's tokenizer) the sentences. Both are small,
load in a fraction of a second and are shared by the bot and training through ``dialogue``.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pymorphy3
import razdel

WORD = re.compile(r"[А-Яа-яЁёA-Za-z0-9-]+")

NEGATIONS = frozenset({"не", "нет", "никогда", "ни", "нету", "ничем", "ничего", "никого", "нисколько"})
"""Words that turn a statement or a question negative."""
ANTONYMS = {"ненавидеть": "любить", "презирать": "любить", "бояться": "любить", "бросить": "курить"}
"""A verb whose meaning is another's negation: «ненавижу кошек», «боюсь собак» say «не люблю …»."""
STOP_LEMMAS = frozenset({
    "я", "ты", "вы", "мы", "он", "она", "оно", "они", "мой", "твой", "ваш", "свой", "наш", "это", "этот", "тот",
    "быть", "есть", "являться", "иметь", "у", "в", "во", "на", "с", "со", "к", "по", "о", "об", "за", "из", "от",
    "и", "а", "но", "или", "ли", "же", "ведь", "вот", "тоже", "также", "очень", "так", "да", "ну", "скажи",
    "сказать", "слушай", "слушать", "правда", "что", "кто", "как", "какой", "где", "когда", "сколько", "чем",
    "кем", "уже", "ещё", "еще", "бы", "мочь", "самый", "весь", "всё", "все", "свой", "себя", "который", "просто",
    "сейчас", "теперь", "больше", "часто", "обычно", "иногда", "любой", "много", "немного", "ага", "угу",
    "привет", "здравствуй", "скажите", "интересно", "вообще", "случайно", "часом", "разве", "неужели",
    *NEGATIONS,
})
"""Lemmas that say nothing about what a statement is about."""

FIRST_TO_SECOND = {
    "я": "ты", "меня": "тебя", "мне": "тебе", "мной": "тобой", "мною": "тобою",
    "мой": "твой", "моя": "твоя", "моё": "твоё", "мое": "твое", "мои": "твои", "моего": "твоего",
    "моей": "твоей", "моему": "твоему", "мою": "твою", "моим": "твоим", "моих": "твоих", "моими": "твоими",
    "моём": "твоём", "моем": "твоем",
}
SECOND_TO_FIRST = {second: first for first, second in FIRST_TO_SECOND.items()}
FIRST_PERSON = frozenset(FIRST_TO_SECOND)
SECOND_PERSON = frozenset(SECOND_TO_FIRST) | {"вы", "вас", "вам", "вами", "ваш", "ваша", "ваше", "ваши"}


@lru_cache(maxsize=1)
def morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=50_000)
def parse(word: str) -> pymorphy3.analyzer.Parse:
    return morph().parse(word.lower())[0]


def words(text: str) -> list[str]:
    """The words of ``text`` in order, lower-cased (hyphenated words kept whole)."""
    return [w.lower().strip("-") for w in WORD.findall(text) if w.strip("-")]


def lemma(word: str) -> str:
    lemma_ = parse(word).normal_form.replace("ё", "е")
    return ANTONYMS.get(lemma_, lemma_)


SMILEY_END = re.compile(r"(?:(?<=\))|(?<=\S\())\s+(?=[А-ЯЁA-Z])")
"""A chat's smiley ends a sentence where a capital follows: «Давай) Как жизнь?», «Эх( Это интересно?»; razdel reads
a bracket as no stop."""


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences (razdel); line breaks end a sentence too, and a smiley before a capital."""
    return [part.strip() for line in text.splitlines() for s in razdel.sentenize(line)
            for part in SMILEY_END.split(s.text) if part.strip()]


_DECORATION_AT_END = re.compile(r"[^\w.!?…]+$")
"""Smileys, emoji and spaces after the last word or stop: «Есть дети?)», «Куришь? 😊»."""


def undecorated(text: str) -> str:
    """``text`` without the smileys and emoji after its last word or stop («А ты?😊» -> «А ты?»)."""
    return _DECORATION_AT_END.sub("", text)


def is_question(sentence: str) -> bool:
    """Whether ``sentence`` ends with «?», a chat's smileys after it aside («У тебя есть дети?))»)."""
    return undecorated(sentence).endswith("?")


def content_lemmas(text: str) -> frozenset[str]:
    """What ``text`` is about: the lemmas of its words but pronouns, particles and other ``STOP_LEMMAS``."""
    return frozenset(l for l in (lemma(w) for w in words(text)) if l.isdigit() or (l not in STOP_LEMMAS and len(l) > 1))


def is_negative(text: str) -> bool:
    """Whether ``text`` says «not»: a negation word, or a verb that negates another (``ANTONYMS``).
    Two negations in a row of the same clause («не могу не …») are rare in chat and read as one."""
    found = words(text)
    return any(w in NEGATIONS for w in found) or any(parse(w).normal_form.replace("ё", "е") in ANTONYMS for w in found)


def to_second_person(text: str) -> str:
    """A first-person sentence said back to its speaker: «Я живу в Казани» -> «Ты живёшь в Казани»,
    «Меня зовут Олег» -> «Тебя зовут Олег». Verbs in the first person singular take the second."""
    return _swap_person(text, FIRST_TO_SECOND, "1per", "2per")


def to_first_person(text: str) -> str:
    """The inverse of ``to_second_person``: «Ты работаешь учителем?» -> «Я работаю учителем?»."""
    return _swap_person(text, SECOND_TO_FIRST, "2per", "1per")


def _swap_person(text: str, pronouns: dict[str, str], source: str, target: str) -> str:
    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        lower = word.lower()
        if lower in pronouns:
            new = pronouns[lower]
        else:
            p = parse(lower)
            if "VERB" not in p.tag or source not in p.tag or "sing" not in p.tag:
                return word
            inflected = p.inflect({target})
            if inflected is None:
                return word
            new = inflected.word
        return new.capitalize() if word[:1].isupper() else new

    return WORD.sub(swap, text)


_NUMBER_WORDS = {
    "ноль": 0, "один": 1, "два": 2, "три": 3, "четыре": 4, "пять": 5, "шесть": 6, "семь": 7,
    "восемь": 8, "девять": 9, "десять": 10, "одиннадцать": 11, "двенадцать": 12, "тринадцать": 13,
    "четырнадцать": 14, "пятнадцать": 15, "шестнадцать": 16, "семнадцать": 17, "восемнадцать": 18,
    "девятнадцать": 19, "двадцать": 20, "тридцать": 30, "сорок": 40, "пятьдесят": 50, "шестьдесят": 60,
    "семьдесят": 70, "восемьдесят": 80, "девяносто": 90, "сто": 100,
}
"""The lemmas of the number words up to a hundred; the rest are sums of them («двадцать восемь»)."""


def is_number_word(word: str) -> bool:
    return word.isdigit() or parse(word).normal_form in _NUMBER_WORDS


def numbers(text: str) -> list[int]:
    """The whole numbers ``text`` says, in digits or in words, in order: «Мне двадцать восемь лет» -> [28],
    «2 кошки и три собаки» -> [2, 3]. Number words in a row add up while each is smaller than the one before."""
    found: list[int] = []
    run: list[int] = []
    for word in words(text) + [""]:
        value = None if word.isdigit() or not word else _NUMBER_WORDS.get(parse(word).normal_form)
        if value is not None and run and value < run[-1] and run[-1] % 10 == 0:
            run.append(value)  # «двадцать» then «восемь»
            continue
        if run:
            found.append(sum(run))
        run = [value] if value is not None else []
        if word.isdigit():
            found.append(int(word))
    return found
