"""Replies in which the speaker gives a name their persona does not have.

The persona chat's crowd workers often introduce themselves («Привет, меня зовут Аня»), but a worker's
name is not among the persona facts. A model trained on such replies gives itself a name no persona
says, and a bot that is held back from ending its reply early does so at most greetings
(docs/model_recipe.md). ``ExperimentConfig.drop_invented_names`` leaves these replies out of
the train split; validation and test keep every row, so that the model is judged on what people wrote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

OWN_NAME = re.compile(
    r"\bменя\s+(?:\w+\s+)?зовут\b|\bзовут\s+меня\b|\bмо[её]\s+имя\b|\bmy\s+name\s+is\b|\bmy\s+name's\b",
    re.IGNORECASE,
)
"""The speaker giving their own name: «меня зовут», «меня Аня зовут», «зовут меня», «моё имя», «my name is».
Asking for the other's name («как тебя зовут?») or naming a pet («мою кошку зовут Муська») is not it."""


def gives_own_name(text: str) -> bool:
    """Whether ``text`` says the speaker's own name."""
    return OWN_NAME.search(text) is not None


def invents_a_name(persona: Sequence[str], reply: str) -> bool:
    """Whether ``reply`` gives the speaker a name while no fact of ``persona`` names them."""
    return gives_own_name(reply) and not any(gives_own_name(fact) for fact in persona)
