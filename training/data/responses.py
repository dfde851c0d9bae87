"""Replies that ignore what the partner just told.

In the persona chat a worker told something («У меня есть кот, он очень толстый») often answers with a fact of
their own persona that has nothing to do with it («А я люблю ездить на дачу.»): 47% of people's replies to a
statement on the test rows, and a model trained on them does the same. ``ExperimentConfig.drop_ignoring_replies``
leaves such replies out of the train split, so that the model learns from the replies that respond to the message:
that take up what it said, ask about it or react to it (docs/model_recipe.md). A getting-to-know question of one's
own («Как тебя зовут?», «Чем увлекаешься?») does not respond to «Я купил новую машину.»: a person asks about the car.
Replies to a question, a question back or a goodbye are all kept: answering is responding. Validation and test keep
every row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dialogue.grounding import (is_farewell, is_how_are_you, last_question, question_back, question_slot,
                                without_greeting)
from dialogue.memory import GENERIC_LEMMAS
from dialogue.russian import content_lemmas, is_question, sentences, words

REACTION = re.compile(
    r"^\W*(?:ого|круто|здорово|класс|клев|клёв|понятно|ясно|ух ты|вау|отлично|супер|интересно|прикольно|согласн|точно|"
    r"правда|серь[её]зно|вот это да|ничего себе|жаль|сочувствую|молодец|замечательно|неплохо|везет|везёт|завидую|"
    r"ха|ахах|да ладно|вот как)",
    re.IGNORECASE,
)
"""A reply that opens with a reaction to what was told («Ого!», «Круто)», «Жаль…», «Ничего себе»)."""


def is_statement(message: str) -> bool:
    """A message that tells and asks nothing: no question, no question back, no goodbye, not a greeting alone
    («Привет!» is answered with a greeting)."""
    return not (last_question(message) or question_back(message) is not None or is_farewell(message)
                or not words(without_greeting(message)))


def ignored_share(contexts: Sequence[Sequence[str]], replies: Sequence[str]) -> tuple[float, int]:
    """Of the rows whose last message is a statement, the share ``replies`` ignore, and how many such rows there are
    (the evaluation's ``ignored_statements``; people's own, with their replies, is the yardstick)."""
    told = [(context, reply) for context, reply in zip(contexts, replies, strict=True)
            if context and is_statement(context[-1])]
    return sum(ignores_the_message(c, r) for c, r in told) / max(len(told), 1), len(told)


def ignores_the_message(context: Sequence[str], reply: str) -> bool:
    """Whether ``reply`` ignores the last message of ``context``, a statement: it shares no word of substance with
    it, asks nothing about it (a bare question back «А ты?» or a getting-to-know question of its own asks nothing of
    what was told) and opens with no reaction."""
    if not context or not is_statement(message := context[-1]):
        return False
    return not (shares_words(message, reply) or asks_about(reply, message) or REACTION.match(reply))


def shares_words(message: str, reply: str) -> bool:
    """Whether ``reply`` takes up a word of substance of ``message`` (not only a verb as common as «любить»)."""
    return bool((content_lemmas(message) & content_lemmas(reply)) - GENERIC_LEMMAS)


def asks_about(reply: str, message: str) -> bool:
    """Whether a question of ``reply`` follows up ``message``: it takes up a word of it, or it is no question anyone
    asks anyone (a bare «А ты?», «Как дела?», a question about a name, a city, an age, a job, family, pets, likes or
    plans) unless on the message's own topic. After «У меня есть кот» «А сколько он весит?», «Какой породы?» and «А
    у тебя есть собака?» follow up; «Как тебя зовут?» and «Чем увлекаешься?» do not."""
    topic = question_slot(message)
    for sentence in sentences(reply):
        if not is_question(sentence) or question_back(sentence) is not None or is_how_are_you(sentence):
            continue
        if shares_words(message, sentence) or question_slot(sentence) in (None, topic):
            return True
    return False
