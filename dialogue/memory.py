"""What a speaker says about themself, as facts a persona is made of, and how newer facts replace older ones.

The bot learns the user's facts from their messages (``self_statements``) and keeps them per user; they go
into the model input as the partner's persona (``FormatSpec.build_input(partner=…)``), the persona chat's
other profile in training. The bot's own earlier replies are read the same way, so that what it invented
where its persona is silent is kept to (``dialogue.grounding``).

A fact is the speaker's own first-person sentence («Я переехал в Казань.»), tagged with what it is about
(``SLOTS``). Some slots hold one value (a person has one name, age, city, job): a newer fact replaces the
older one. In the others a newer fact replaces an older one about the same things («У меня больше нет
собаки» replaces «У меня есть собака»).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dialogue.russian import (
    FIRST_PERSON, WORD, content_lemmas, is_negative, is_number_word, is_question, lemma, numbers, parse, sentences, words,
)

SLOTS = ("name", "age", "city", "job", "family", "pets", "likes", "plans", "other")
SINGLE_VALUED = frozenset({"name", "age", "city", "job"})
MAX_FACT_CHARS = 200
"""A longer sentence is a story, not a fact: it is not remembered (a long self-description still gives its
short sentences)."""
MIN_FACT_WORDS = 2
MAX_FACTS_PER_MESSAGE = 10
"""A message telling more is a self-description: its first facts are kept."""

_SLOT_LEMMAS = {
    "age": {"год", "возраст", "лето"},
    "city": {"жить", "переехать", "переезжать", "город", "родиться", "проживать", "живать"},
    "job": {"работать", "работа", "профессия", "должность", "трудиться", "преподавать", "учиться", "студент", "студентка",
            "школьник", "пенсионер", "пенсионерка", "пенсия", "безработный", "специальность"},
    "family": {"муж", "жена", "сын", "дочь", "дочка", "ребенок", "дети", "брат", "сестра", "мама", "папа", "мать",
               "отец", "семья", "замужем", "женатый", "жениться", "развестись", "внук", "внучка", "бабушка",
               "дедушка", "родитель", "парень", "девушка", "холостой", "замуж"},
    "pets": {"собака", "кошка", "кот", "пес", "щенок", "котенок", "попугай", "хомяк", "рыбка", "животное",
             "питомец", "черепаха", "кролик", "лошадь", "морской", "свинка", "крыса", "змея"},
    "likes": {"любимый", "любить", "нравиться", "обожать", "увлекаться", "хобби", "интересоваться", "фанат", "слушать",
              "читать", "играть", "заниматься", "смотреть", "коллекционировать", "рисовать", "петь"},
    "plans": {"собираться", "планировать", "хотеть", "мечтать", "будущий", "скоро", "завтра", "поехать",
              "поступать", "поступить", "план", "цель"},
}
GENERIC_LEMMAS = frozenset({"любить", "нравиться", "обожать", "увлекаться", "заниматься", "хотеть", "собираться",
                      "планировать", "мечтать", "жить", "работать", "играть", "слушать", "смотреть", "читать"})
"""Verbs many facts share: sharing one of them alone does not make two facts about the same thing."""
_CLAUSE = re.compile(r",\s*(?=(?:а|и|но)?\s*(?:я|у меня|мне|меня|мой|моя|мои|моё)\b)", re.IGNORECASE)
_ASK_BACK_TAIL = re.compile(r"[,.!;]?\s*(?:а|и)\s+(?:у\s+)?(?:ты|тебя|тебе|вы|вас|вам)\b[^.!?]*\?+\s*$", re.IGNORECASE)
_PRIORITY = ("age", "city", "pets", "family", "job", "plans", "likes")
"""The order cues are read in; the name is read first, by ``_names_oneself``: only one's own («кошка по имени Муська»
is a pet)."""
_NOT_ABOUT_SELF = re.compile(r"^(а|и|но|ну)?\s*(ты|вы|у тебя|у вас|тебе|вам)\b", re.IGNORECASE)
HEDGES = frozenset({"наверное", "наверно", "может", "возможно", "кажется", "если", "бы", "думаю"})
_PASSING = frozenset({"пора", "сейчас", "сегодня", "щас", "сейчас", "вчера", "сегодняшний"})
"""A sentence of the moment («Мне пора», «Я сегодня поймал щуку»), not a lasting fact."""
_TALK_VERBS = frozenset({"понимать", "сочувствовать", "желать", "думать", "знать", "извиняться", "надеяться",
                         "соглашаться", "согласиться", "поздравлять", "благодарить", "сидеть", "идти", "пойти",
                         "побежать", "бежать", "ждать", "слышать", "видеть", "писать", "отвечать", "рад", "сказать",
                         "говорить", "рассказать", "рассказывать", "спросить", "спрашивать", "понять", "помнить"})
"""First-person verbs of the conversation itself («Понимаю», «Сочувствую»): said without «я», they tell no fact."""
_TAKING_BACK = frozenset({"соврать", "врать", "наврать", "пошутить", "шутить", "ошибиться", "оговориться", "обмануть"})
"""«Я вообще-то соврала, у меня нет детей»: what was taken back is no fact, what follows is."""
_RUN_ON = re.compile(r"(?<=[а-яёa-z0-9])\s+(?=[А-ЯЁ][а-яё]*\b)|(?:(?<=[а-яё]{4}\.)|(?<=[а-яё][!?…]))(?=[А-ЯЁ][а-яё])")
"""Where a message typed without stops goes on with a new sentence: a capitalised word after a lower-case one (after a
smiley ``sentences`` has cut it already), or right after a stop with no space («Меня зовут Мария!Временно не
работаю»)."""
_OPENERS = frozenset({"NPRO", "Apro", "PREP", "CONJ", "PRCL", "INTJ", "VERB", "INFN", "ADVB", "PRED"})
"""What may open a new sentence there: a pronoun, a verb, an adverb, a particle… — not a noun, which may be a name
pymorphy3 does not know («У меня есть кот Барсик»)."""


@dataclass(frozen=True)
class Fact:
    """One thing a speaker said about themself."""

    text: str
    """Their sentence, trimmed, first person («Я живу в Казани.»)."""
    slot: str
    """What it is about: one of ``SLOTS``."""

    @property
    def about(self) -> frozenset[str]:
        return content_lemmas(self.text)


def classify(sentence: str) -> str:
    """The slot of a first-person sentence (``other`` when no cue says)."""
    found = words(sentence)
    lemmas = {lemma(w) for w in found}
    if _names_oneself(found):
        return "name"
    if re.match(r"^(?:[АаИи]|[Нн]у)?\s*[Яя]\s+(?:родом\s+)?из\s+(?:г\.\s*)?[А-ЯЁ]", sentence.strip()):
        return "city"  # «Я из Хабаровска», not «я из декретного мира»
    if stated_age(sentence) is not None or (lemmas & {"год", "лето"} and any(w.isdigit() for w in found)):
        return "age"
    for slot in _PRIORITY:
        if lemmas & _SLOT_LEMMAS[slot]:
            if slot == "age":
                continue  # «год» without a number is not an age
            return slot
    if _is_identity(found):
        return "job"
    return "other"


_AGE_FILLERS = frozenset({"а", "и", "ну", "да", "кстати", "уже", "скоро", "всего", "только", "почти", "ровно"})


def stated_age(sentence: str) -> int | None:
    """The age a first-person sentence gives, in digits or in words: «Мне 28 лет», «Мне уже двадцать восемь», «А я
    20 лет» (as the model writes it); None for a number of something else («Я 30 лет живу в Москве», «Мне 2 раза
    звонили»)."""
    found = [word for word in words(sentence) if word not in _AGE_FILLERS]
    if found[:2] == ["у", "меня"]:
        found = ["я", *found[2:]]  # «А у меня 20 лет», as the model writes it, reads as «я»: with its years only
    if found[:1] not in (["мне"], ["я"]):
        return None
    count = next((i for i, word in enumerate(found[1:]) if not is_number_word(word)), len(found) - 1)
    after = found[1 + count : 2 + count]
    if not count or after not in ([], ["лет"], ["год"], ["года"]) or found[0] == "я" and (
            not after or len(found) > 2 + count):  # «Я 30 лет живу в Москве» is how long
        return None
    age = numbers(" ".join(found[1 : 1 + count]))
    return age[0] if len(age) == 1 and 0 < age[0] < 120 else None


def _names_oneself(found: list[str]) -> bool:
    """«Меня зовут Олег», «Моё имя Аня», and without the verb «Я Ирина», «А меня Марго», «Я Паша»: «я» or «меня» and a
    first name right after; not «кошка по имени Муська» nor «Мою дочь зовут Аня» (someone else's name)."""
    lemmas = {lemma(word) for word in found}
    if lemmas & {"звать", "зваться"} and "меня" in found or "имя" in found and set(found) & {"моё", "мое"}:
        return True
    if found[:1] in (["а"], ["и"], ["ну"]):
        found = found[1:]
    return len(found) >= 2 and found[0] in ("я", "меня") and "Name" in parse(found[1]).tag


def _is_identity(found: list[str]) -> bool:
    """«Я врач», «я студент»: «я» and a noun in the nominative, no verb."""
    if found[:1] in (["а"], ["и"], ["ну"]):
        found = found[1:]
    if len(found) < 2 or found[0] != "я":
        return False
    tags = [parse(w).tag for w in found[1:]]
    return any("NOUN" in t and "nomn" in t and "Name" not in t for t in tags) and not any("VERB" in t for t in tags)


def is_self_statement(sentence: str) -> bool:
    """A declarative sentence about its speaker: first person, not a question, not a hedge or a wish for the
    other («Я думаю, ты прав»), not about the listener."""
    if is_question(sentence) or _NOT_ABOUT_SELF.match(sentence.strip()):
        return False
    found = words(sentence)
    if len(found) < MIN_FACT_WORDS or len(sentence) > MAX_FACT_CHARS or set(found) & (HEDGES | _PASSING):
        return False
    # «я», «меня», «мне», «у меня», «мой …» open a statement about oneself, or a verb in the first person
    # («Работаю врачом», «Танцевать люблю»)
    if not set(found[:4]) & FIRST_PERSON and not _said_without_i(found):
        return False
    if {lemma(word) for word in found} & _TAKING_BACK:
        return False
    if any(w in ("ты", "тебя", "тебе", "вы", "вас", "вам") for w in found):
        return False  # «Я тоже тебя люблю», «Мне с тобой интересно»: about the two of them
    return bool(content_lemmas(sentence))


def _said_without_i(found: list[str]) -> bool:
    """«Работаю врачом», «Часто путешествую», «Танцевать люблю»: a verb in the first person singular among the
    first three words, not one of the conversation itself (``_TALK_VERBS``)."""
    for word in found[:3]:
        tag = parse(word).tag
        if "VERB" in tag and "1per" in tag and "sing" in tag:
            return lemma(word) not in _TALK_VERBS
    return False


def typed_sentences(text: str) -> list[str]:
    """The sentences of a message, those typed without stops («Я работаю водителем У меня есть машина») cut
    where a capitalised pronoun, verb, adverb or particle (``_OPENERS``) goes on after a lower-case word that is
    not a preposition or a conjunction («из Республики Карелия», «и Увлекаюсь»)."""
    cut: list[str] = []
    for sentence in sentences(text):
        start = 0
        for match in _RUN_ON.finditer(sentence):
            following = WORD.match(sentence, match.end())
            before = words(sentence[: match.start()])[-1:]
            stop = match.start() == match.end()
            if stop or (following and _OPENERS & set(parse(following.group(0)).tag.grammemes)
                        and not (before and {"PREP", "CONJ"} & set(parse(before[0]).tag.grammemes))):
                cut.append(sentence[start : match.start()])
                start = match.end()
        cut.append(sentence[start:])
    return [part.strip() for part in cut if part.strip()]


def self_statements(text: str) -> list[Fact]:
    """The facts a message states about its author, in order (see ``is_self_statement``)."""
    facts: list[Fact] = []
    for sentence in typed_sentences(text):
        if len(sentence) > 2 * MAX_FACT_CHARS:
            continue
        # «Мне 25 лет, я живу в Москве» is two facts; «Я врач, а ты?» is one and a question back.
        for clause in _CLAUSE.split(_ASK_BACK_TAIL.sub("", sentence)):
            clause = clause.strip(" -–—,;")
            if not is_self_statement(clause):  # «Я медсестра, сегодня было много пациентов»: its first part
                clause = clause.split(",", 1)[0].strip(" -–—")
            if is_self_statement(clause):
                facts += [Fact(_as_fact(part), classify(part)) for part in _with_hometown(clause)]
    return list(dict.fromkeys(facts))[:MAX_FACTS_PER_MESSAGE]


_ALSO = re.compile(r"(?<=\w)\s+(?:тоже|также)\b", re.IGNORECASE)
"""«Я тоже люблю огород»: «тоже» is of the moment it was said in; the fact is «Я люблю огород»."""
_TRAILING_ASIDE = re.compile(r"[,\s]+(?:кстати|вообще-то|между прочим|если что)(?=[\s.!…)]*$)", re.IGNORECASE)
"""«Мне 28 лет, кстати.» tells «Мне 28 лет.»: said back, the aside would be the bot's."""


_FROM_PLACE = re.compile(r"^(.*\S)\s+(из\s+(?:г\.\s*)?[А-ЯЁ][\w-]*(?:[\s-]+[А-ЯЁ][\w-]*)*)\W*$")


def _with_hometown(clause: str) -> list[str]:
    """«Я программист из Москвы» as two facts, «Я программист» and «Я из Москвы», so that «Где я живу?» finds the town
    and a move replaces it; «Я приехал из Москвы» is one (a verb: not where one lives)."""
    found = _FROM_PLACE.match(clause)
    if found is None or not any("Geox" in parse(word).tag for word in words(found.group(2))):
        return [clause]
    who = words(found.group(1))
    if not (_is_identity(who) or _names_oneself(who)):
        return [clause]
    return [found.group(1), f"Я {found.group(2)}"]


def _as_fact(sentence: str) -> str:
    sentence = re.sub(r"^(а|и|но|ну|кстати|вообще-то|вообще|да|нет|ну да)\b[,\s]*", "", sentence, flags=re.IGNORECASE)
    found = words(sentence)
    if not set(found[:4]) & FIRST_PERSON:  # «Работаю врачом» is remembered as «Я работаю врачом.»
        sentence = "я " + sentence[:1].lower() + sentence[1:] if not found[:1] or "Name" not in parse(found[0]).tag \
            else "я " + sentence
    sentence = _TRAILING_ASIDE.sub("", _ALSO.sub("", sentence))
    sentence = sentence[:1].upper() + sentence[1:]
    return sentence if sentence[-1:] in ".!…)" else sentence + "."


def replaces(new: Fact, old: Fact) -> bool:
    """Whether ``new`` makes ``old`` out of date: the same single-valued slot, or the same things said of
    («У меня больше нет собаки» and «У меня есть собака»), or the same words again."""
    if new.slot == old.slot and new.slot in SINGLE_VALUED:
        return True
    shared = new.about & old.about
    if not shared:
        return False
    if not shared - GENERIC_LEMMAS:  # «Я люблю футбол» and «Я люблю книги» share «любить» only: both stand
        return new.about == old.about
    if new.slot == old.slot and new.slot != "other":
        return True
    return new.about == old.about or is_negative(new.text) != is_negative(old.text) and len(shared) >= 1


def remember(known: Sequence[Fact], told: Iterable[Fact]) -> tuple[list[Fact], list[Fact]]:
    """``known`` with the ``told`` facts added, newest last: (kept, dropped). A fact told replaces what it
    makes out of date (``replaces``); a fact said again moves to the end."""
    kept, dropped = list(known), []
    for fact in told:
        stale = [old for old in kept if replaces(fact, old)]
        dropped += [old for old in stale if old.text != fact.text]
        kept = [old for old in kept if old not in stale] + [fact]
    return kept, dropped
