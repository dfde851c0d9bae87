"""What a reply must open with, decided from the persona, the dialogue and what the bot knows of the user.

A small causal model asked «У тебя есть дети?» with «У меня нет детей.» in its persona mostly answers «Да»,
and it cannot look further back than its input window. Where the facts settle the answer, the reply's
opening is fixed here and the model goes on from it (``FormatSpec.build_input(opening=…)``):

* a yes/no question about the bot that its persona, or what it said earlier in the dialogue, settles:
  «Да,» or «Нет,» by the fact's polarity (``settle``);
* a question about the bot that only an earlier reply of its own answers (it invented it): that reply's
  fact, so that it keeps to what it invented;
* a question about the user («Как меня зовут?», «Где я живу?», «У меня есть собака?»): the user's fact
  said back to them («Тебя зовут Олег.»), or «Да,» / «Нет,»;
* a goodbye: «Пока!».

Everything else is the model's own choice (no opening).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dialogue.format import own_turns
from dialogue.memory import SINGLE_VALUED, Fact, _GENERIC, classify, self_statements
from dialogue.russian import (
    FIRST_PERSON, SECOND_PERSON, content_lemmas, is_negative, lemma, sentences, to_first_person, to_second_person,
    words,
)

YES, NO, GOODBYE = "Да,", "Нет,", "Пока!"
WH_WORDS = frozenset({"кто", "что", "где", "когда", "как", "какой", "какая", "какое", "какие", "каких", "каким",
                      "почему", "зачем", "сколько", "куда", "откуда", "чем", "кем", "чей", "чья", "чьё", "чем",
                      "кого", "кому", "чему", "каков", "какую", "какого", "какой-то", "отчего"})
_FAREWELL = re.compile(
    r"(^|[\s,.!])(до свидания|до встречи|до завтра|спокойной ночи|всего доброго|всего хорошего|бывай|увидимся|"
    r"мне пора|мне нужно идти|мне надо идти|я пошла|я пошёл|я пошел|прощай)([\s,.!)]|$)"
    r"|(^|[\s,.!])пока([,.!)…-]|\s*$)",  # «пока» as a goodbye ends its phrase: «Я пока работаю» is not one
    re.IGNORECASE,
)
_QUESTION_SLOTS = {
    "name": {"звать", "имя", "зваться"},
    "age": {"возраст", "год", "лето"},
    "city": {"жить", "город", "откуда", "родиться", "проживать"},
    "job": {"работать", "работа", "профессия", "кем", "заниматься", "специальность", "учиться"},
    "family": {"семья", "ребенок", "дети", "муж", "жена", "брат", "сестра", "женатый", "замужем", "родитель"},
    "pets": {"животное", "питомец", "собака", "кошка", "кот", "пес", "попугай", "хомяк", "рыбка"},
    "likes": {"любить", "нравиться", "хобби", "увлекаться", "обожать", "любимый"},
    "plans": {"собираться", "планировать", "план", "мечтать", "хотеть"},
}
_ALL_ABOUT = re.compile(r"(что|чего)\s+(ты\s+)?(знаешь|помнишь|запомнил\w*)\s+(обо|про|о)\s+(мне|меня)", re.IGNORECASE)


def is_farewell(message: str) -> bool:
    """Whether the user says goodbye («Ну ладно, мне пора. Пока!»); «пока» as «while» («пока не знаю») is not."""
    return bool(_FAREWELL.search(message.strip()))


def last_question(message: str) -> str | None:
    """The message's last sentence if it is a question."""
    found = sentences(message)
    return found[-1] if found and found[-1].rstrip().endswith("?") else None


def is_yes_no(question: str) -> bool:
    """A question answered by yes or no: no question word, no «или» between choices."""
    found = words(question)
    return bool(found) and not (set(found) & WH_WORDS) and "или" not in found


def addressee(question: str) -> str | None:
    """Who the question is about: ``"bot"`` («ты», «у тебя»), ``"user"`` («я», «меня», «мой»), or None."""
    found = set(words(question))
    if found & SECOND_PERSON:
        return "bot"
    if found & FIRST_PERSON:
        return "user"
    return None


def question_slot(question: str) -> str | None:
    lemmas = {lemma(w) for w in words(question)} | set(words(question))
    for slot, cues in _QUESTION_SLOTS.items():
        if lemmas & cues:
            return slot
    return None


def settle(question: str, facts: Sequence[str]) -> bool | None:
    """True (yes) or False (no) if one of ``facts`` (first person, the answering side's) settles the yes/no
    ``question`` put to that side; None if none does. The fact must share what the question is about (not
    only a common verb: «Ты любишь кошек?» is not settled by «Я люблю собак»); the answer is yes when the
    fact and the question agree in polarity («Я не курю» settles «Ты куришь?» with no). A single-valued
    slot settles a question about another value: «Я живу в Казани» answers «Ты живёшь в Москве?» with no."""
    asked = to_first_person(question)
    about = content_lemmas(asked)
    if not about:
        return None
    slot = question_slot(asked) or classify(asked)
    best: tuple[float, str] | None = None
    for fact in facts:
        shared = about & content_lemmas(fact)
        if not shared - _GENERIC:
            continue
        fact_slot = classify(fact)
        if slot != fact_slot and "other" not in (slot, fact_slot):
            continue  # «У тебя есть дети?» is not settled by «Я люблю детей»
        coverage = len(shared) / len(about)
        if best is None or coverage > best[0]:
            best = (coverage, fact)
    if best is not None:
        return is_negative(best[1]) == is_negative(asked)
    if slot in SINGLE_VALUED and not is_negative(asked):
        if any(classify(fact) == slot and not is_negative(fact) for fact in facts):
            return False  # another value of a single-valued slot
    return None


def recall(question: str, facts: Sequence[str]) -> str | None:
    """The fact of ``facts`` that a wh-question asks for, by its slot, newest first."""
    slot = question_slot(to_first_person(question))
    if slot is None:
        return None
    for fact in reversed(facts):
        if classify(fact) == slot:
            return fact
    return None


def reply_opening(persona: Sequence[str], history: Sequence[str], partner: Sequence[str] = ()) -> str:
    """The words the reply to ``history`` (oldest first, the user's turn last) must open with; "" for none.
    ``persona``: the bot's facts; ``partner``: what it knows of the user (their own first-person facts)."""
    if not history:
        return ""
    message = history[-1]
    question = last_question(message)
    if question is None:
        return GOODBYE if is_farewell(message) else ""
    if _ALL_ABOUT.search(question):
        return to_second_person(" ".join(partner[-3:])) if partner else ""
    about = addressee(question)
    if about == "bot":
        invented = [f.text for reply in own_turns(history) for f in self_statements(reply)]
        if is_yes_no(question):
            answer = settle(question, list(persona) + invented)
            return "" if answer is None else YES if answer else NO
        if (fact := recall(question, invented)) and recall(question, persona) is None:
            return _said_again(fact)
        return ""
    if about == "user":
        if is_yes_no(question):
            answer = settle(question, partner)
            return "" if answer is None else YES if answer else NO
        if (fact := recall(question, partner)) is not None:
            return to_second_person(fact)
    return ""


def _said_again(fact: str) -> str:
    return fact if fact[-1:] in ".!?…" else fact + "."


def join_opening(opening: str, continuation: str) -> str:
    """The reply: the opening and what the model wrote after it."""
    continuation = continuation.strip()
    if not opening:
        return continuation
    if not continuation:
        return opening.rstrip(",")
    glue = "" if continuation[:1] in ",.!?…)" else " "
    return f"{opening}{glue}{continuation}"
