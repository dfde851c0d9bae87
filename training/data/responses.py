"""Replies that ignore what the partner just told.

In the persona chat a worker told something («У меня есть кот, он очень толстый») often answers with a fact of
their own persona that has nothing to do with it («А я люблю ездить на дачу.»): 47% of people's replies to a
statement on the test rows, and a model trained on them does the same. ``ExperimentConfig.drop_ignoring_replies``
leaves such replies out of the train split, so that the model learns from the replies that respond to the message:
that take up what it said, ask about it or react to it (docs/model_recipe.md). Replies to a question, a question
back or a goodbye are all kept: answering is responding. Validation and test keep every row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dialogue.grounding import is_farewell, last_question, question_back
from dialogue.memory import GENERIC_LEMMAS
from dialogue.russian import content_lemmas

REACTION = re.compile(
    r"^\W*(?:ого|круто|здорово|класс|клев|клёв|понятно|ясно|ух ты|вау|отлично|супер|интересно|прикольно|согласн|точно|"
    r"правда|серь[её]зно|вот это да|ничего себе|жаль|сочувствую|молодец|замечательно|неплохо|везет|везёт|завидую|"
    r"ха|ахах|да ладно|вот как)",
    re.IGNORECASE,
)
"""A reply that opens with a reaction to what was told («Ого!», «Круто)», «Жаль…», «Ничего себе»)."""


def ignores_the_message(context: Sequence[str], reply: str) -> bool:
    """Whether ``reply`` ignores the last message of ``context``, a statement: it shares no word of substance with
    it, asks nothing but a bare question back («А ты?») and opens with no reaction."""
    if not context:
        return False
    message = context[-1]
    if last_question(message) or question_back(message) is not None or is_farewell(message):
        return False
    shared = (content_lemmas(message) & content_lemmas(reply)) - GENERIC_LEMMAS
    asks = "?" in reply and question_back(reply) is None
    return not (shared or asks or REACTION.match(reply))
