"""Synthetic-Persona-Chat (Google, CSV): ``user 1 personas``, ``user 2 personas`` (a fact per line) and
``Best Generated Conversation`` (``User 1: …`` / ``User 2: …`` lines; other lines continue the last turn)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from training.data.records import Dialogue
from training.data.sources.base import SkipReport, merge_turns, read_delimited

NAME = "synthetic_persona_chat"
PERSONA_COLUMNS = {"1": "user 1 personas", "2": "user 2 personas"}
CONVERSATION = "Best Generated Conversation"
_TURN = re.compile(r"^\s*User\s*([12])\s*:\s*(.*)$")


def _turns(conversation: str) -> list[tuple[str, str]]:
    turns: list[tuple[str, str]] = []
    for line in conversation.splitlines():
        match = _TURN.match(line)
        if match:
            turns.append((match.group(1), match.group(2).strip()))
        elif line.strip() and turns:  # stage directions, recipes...: part of the last turn
            turns[-1] = (turns[-1][0], f"{turns[-1][1]} {line.strip()}")
    return [(speaker, text) for speaker, text in turns if text]


def read_synthetic_persona_chat(path: Path, report: SkipReport) -> Iterator[Dialogue]:
    """Dialogues with ``personas`` {0: facts of whoever speaks first, 1: facts of the other}."""
    for number, row in enumerate(read_delimited(path, ",", (*PERSONA_COLUMNS.values(), CONVERSATION))):
        report.seen(NAME)
        speakers, utterances = merge_turns(_turns(row[CONVERSATION] or ""))
        if len(utterances) < 2:
            report.skip(NAME, "one-sided dialogue")
            continue
        facts = {user: tuple(f for f in (" ".join(x.split()) for x in (row[col] or "").splitlines()) if f)
                 for user, col in PERSONA_COLUMNS.items()}
        yield Dialogue(
            f"{NAME}:{path.stem}:{number}", NAME, tuple(utterances), {0: facts[speakers[0]], 1: facts[speakers[1]]}
        )
