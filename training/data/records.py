"""The records that flow from raw data sources to hypothesis samples."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Dialogue:
    """One raw dialogue from a source: utterances in order, speakers alternating.

    ``personas`` maps a speaker index (0 = whoever speaks first) to that speaker's facts;
    sources without personas leave it empty.
    """

    dialogue_id: str
    source: str
    utterances: tuple[str, ...]
    personas: dict[int, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    """One training example: the reply that follows ``context`` as the ``persona`` speaker.

    ``dialogue_id`` names the dialogue it came from, so splits never share a dialogue.
    The ``dialogue`` package's ``FormatSpec`` turns ``persona`` + ``context`` into model input.
    """

    persona: tuple[str, ...]
    context: tuple[str, ...]
    reply: str
    source: str
    dialogue_id: str
    partner: tuple[str, ...] = ()
    """The other speaker's facts (h4's «both personas»; in the bot, what it knows of the user)."""
