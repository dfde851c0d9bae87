"""Personas: the preset list shipped with the bot and the rules for user-written facts.

The validation here is shared by the console and the Telegram persona editor, so both
accept exactly the same input and answer with the same Russian messages.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

PRESETS_PATH = Path(__file__).resolve().parent / "data" / "personas.json"
MAX_FACTS = 10
MIN_FACT_CHARS = 3
MAX_FACT_CHARS = 200
MAX_TITLE_CHARS = 64


class PersonaError(ValueError):
    """Invalid persona input; the message is Russian and meant for the user."""


@dataclass(frozen=True)
class PresetPersona:
    """A persona shipped with the bot, identified by a stable ``key``."""

    key: str
    title: str
    facts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.key or not self.key.isascii() or not self.key.replace("_", "").isalnum():
            raise PersonaError(f"ключ персоны должен быть латиницей без пробелов: {self.key!r}")
        validate_title(self.title)
        if list(self.facts) != validate_facts(list(self.facts)):
            raise PersonaError(f"у персоны {self.key} факты с лишними пробелами или пустыми строками")


def load_presets(path: Path = PRESETS_PATH) -> list[PresetPersona]:
    """The preset personas from ``path`` (a JSON list of {key, title, facts}), validated."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        presets = [PresetPersona(item["key"], item["title"], tuple(item["facts"])) for item in raw]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PersonaError(f"файл персон {path} не читается: {error}") from error
    keys = [preset.key for preset in presets]
    if len(set(keys)) != len(keys):
        raise PersonaError(f"в файле персон {path} повторяются ключи")
    return presets


def validate_facts(lines: list[str]) -> list[str]:
    """Facts from user input: stripped, empty lines dropped; raises PersonaError if unusable."""
    facts = [line.strip() for line in lines if line.strip()]
    if not facts:
        raise PersonaError("Нужен хотя бы один факт о персоне, например: «Я работаю учителем.»")
    if len(facts) > MAX_FACTS:
        raise PersonaError(f"Слишком много фактов: {len(facts)}. Можно не больше {MAX_FACTS}.")
    for number, fact in enumerate(facts, start=1):
        if len(fact) < MIN_FACT_CHARS:
            raise PersonaError(f"Факт {number} слишком короткий: нужно хотя бы {MIN_FACT_CHARS} символа.")
        if len(fact) > MAX_FACT_CHARS:
            raise PersonaError(f"Факт {number} слишком длинный: {len(fact)} символов, можно до {MAX_FACT_CHARS}.")
        if _has_control_characters(fact):
            raise PersonaError(f"В факте {number} есть непечатаемые символы, уберите их.")
    return facts


def validate_title(title: str) -> str:
    """A persona title: stripped, 1..MAX_TITLE_CHARS printable characters."""
    title = title.strip()
    if not title:
        raise PersonaError("Название персоны не может быть пустым.")
    if len(title) > MAX_TITLE_CHARS:
        raise PersonaError(f"Название персоны слишком длинное: можно до {MAX_TITLE_CHARS} символов.")
    if _has_control_characters(title):
        raise PersonaError("В названии персоны есть непечатаемые символы, уберите их.")
    return title


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in text)
