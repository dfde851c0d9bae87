"""What a user can do with personas, decided once for both front ends.

The Telegram handlers (``bot/handlers/persona.py``) and the console (``bot/console.py``) only keep the form's
state (aiogram's FSM data, a list in the console) and turn these answers into messages, buttons or lines:
a rule of the persona form or of choosing a persona changes here, once.

The form never traps anyone: a message that breaks a limit is refused at once, saying what to do (shorten it,
how many facts are left, ``/done`` to save, ``/cancel`` to leave); ``/help`` works inside it; any other command
says to finish or cancel first; nothing is silently taken as a fact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot import texts
from bot.chat import PersonaChoices
from bot.personas import MAX_FACT_CHARS, MAX_FACTS, MIN_FACT_CHARS, PersonaError, validate_facts
from bot.storage.models import Persona, User
from bot.storage.repository import Repository

FORM_COMMANDS = ("/done", "/cancel", "/help")
"""The commands the persona form answers itself; any other says to finish or cancel first."""


@dataclass(frozen=True)
class FormStep:
    """The form after one message: the facts kept so far, what to tell the user, and whether the form is over."""

    facts: tuple[str, ...]
    text: str
    closed: bool = False
    """Saved (``persona`` set) or cancelled: the front end leaves the form."""
    persona: Persona | None = None


def form_opening() -> str:
    """What the form says when it opens: how to write facts, the limits, how to finish or leave."""
    limits = texts.CUSTOM_LIMITS.format(max_facts=MAX_FACTS, min_chars=MIN_FACT_CHARS, max_chars=MAX_FACT_CHARS)
    return f"{texts.PERSONA_WRITE_PROMPT}\n{limits}"


def add_facts(facts: Sequence[str], message: str) -> FormStep:
    """One message of facts, one a line: all of them are added, or none, with the reason and what to do."""
    facts = tuple(facts)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return FormStep(facts, texts.CUSTOM_NEED_TEXT)
    left = MAX_FACTS - len(facts)
    if len(lines) > left:
        error = (texts.CUSTOM_FULL.format(max_facts=MAX_FACTS) if left == 0 else
                 texts.CUSTOM_TOO_MANY.format(lines=len(lines), left=left))
        return FormStep(facts, texts.CUSTOM_REJECTED.format(error=error, count=len(facts), max_facts=MAX_FACTS))
    try:
        validate_facts([*facts, *lines])  # numbered as in the persona: «Факт 4 слишком длинный…»
    except PersonaError as error:
        return FormStep(facts, texts.CUSTOM_REJECTED.format(error=error, count=len(facts), max_facts=MAX_FACTS))
    facts += tuple(lines)
    accepted = texts.CUSTOM_ACCEPTED if len(facts) < MAX_FACTS else texts.CUSTOM_ACCEPTED_FULL
    return FormStep(facts, accepted.format(count=len(facts), max_facts=MAX_FACTS))


async def form_command(repo: Repository, user: User, facts: Sequence[str], command: str) -> FormStep:
    """A command sent while the form is open (``command`` is its first word, e.g. ``/done``)."""
    facts = tuple(facts)
    if command == "/done":
        if not facts:
            return FormStep(facts, texts.CUSTOM_NOTHING_YET)
        persona = await repo.create_persona(user, texts.CUSTOM_PERSONA_TITLE, list(facts))
        await repo.set_current_persona(user, persona)
        return FormStep(facts, texts.persona_chosen(persona.title, persona.fact_texts), closed=True, persona=persona)
    if command == "/cancel":
        return FormStep(facts, texts.PERSONA_CANCELLED, closed=True)
    status = texts.FORM_STATUS.format(count=len(facts), max_facts=MAX_FACTS)
    if command == "/help":
        return FormStep(facts, f"{status}\n{texts.FORM_HELP}")
    return FormStep(facts, f"{status} {texts.FORM_FINISH_FIRST.format(command=command)}")


def is_form_command(text: str) -> bool:
    """Whether a message sent inside the form is a command rather than facts (a line starting with «/»)."""
    return text.lstrip().startswith("/")


def command_of(text: str) -> str:
    """The command word of a message: ``/done@my_bot now`` -> ``/done``."""
    return text.strip().split(maxsplit=1)[0].split("@", 1)[0].lower() if text.strip() else ""


class ChoiceError(ValueError):
    """A persona number that names nothing; ``str(exc)`` says what exists, in Russian."""


def chosen_persona(choices: PersonaChoices, argument: str) -> Persona:
    """The persona ``/persona N`` names (numbers as listed: presets first, then the user's own)."""
    numbered = choices.numbered
    argument = argument.strip()
    if not argument.isdigit():
        raise ChoiceError(texts.PERSONA_NOT_A_NUMBER.format(argument=texts.shorten(argument, 30), count=len(numbered)))
    if not 1 <= int(argument) <= len(numbered):
        raise ChoiceError(texts.PERSONA_NO_NUMBER.format(number=int(argument), count=len(numbered)))
    return numbered[int(argument) - 1]
