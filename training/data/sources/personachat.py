"""English PersonaChat, ``personachat_self_original.json`` (the ConvAI2 / HuggingFace format).

``{"train": [{"personality": [...], "utterances": [{"history": [...], "candidates": [..., gold]}]}],
"valid": [...]}``: the last step's history plus its gold reply (the last candidate) is the whole
dialogue, and ``personality`` belongs to the replying speaker. A conversation appears once from each
side (the side that speaks first has ``__ SILENCE __`` as the partner's opening), so entries are
grouped by their opening exchange into one dialogue carrying both personas: one dialogue id, one split.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from training.data.records import Dialogue
from training.data.sources.base import DataFormatError, SkipReport

NAME = "personachat"
SILENCE = "__ SILENCE __"


def _side(entry: object) -> tuple[tuple[str, ...], int, tuple[str, ...]] | None:
    """``(utterances, speaker index of the persona, persona)`` of one entry, or None if malformed."""
    try:
        last = entry["utterances"][-1]
        utterances = [" ".join(u.split()) for u in (*last["history"], last["candidates"][-1])]
        persona = tuple(" ".join(f.split()) for f in entry["personality"])
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    speaker = 1  # the persona owner replies to the history's first utterance...
    if utterances and utterances[0] == SILENCE:
        utterances, speaker = utterances[1:], 0  # ...unless that was silence: then it spoke first
    if len(utterances) < 2 or not all(utterances):
        return None
    return tuple(utterances), speaker, persona


def read_personachat(path: Path, report: SkipReport) -> Iterator[Dialogue]:
    """Dialogues of every split in the file (the project makes its own splits by dialogue)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise DataFormatError(f"{path}: expected {{split: [dialogues]}} as in personachat_self_original.json")
    conversations: dict[str, tuple[tuple[str, ...], dict[int, tuple[str, ...]]]] = {}
    for split, entries in data.items():
        for entry in entries:
            report.seen(NAME)
            side = _side(entry)
            if side is None:
                report.skip(NAME, "malformed dialogue entry")
                continue
            utterances, speaker, persona = side
            key = hashlib.sha1("\n".join((split, *utterances[:2])).encode()).hexdigest()[:16]
            known_utterances, personas = conversations.get(key, ((), {}))
            personas = {**personas, speaker: persona}
            conversations[key] = (max(known_utterances, utterances, key=len), personas)
    for key, (utterances, personas) in conversations.items():
        yield Dialogue(f"{NAME}:{key}", NAME, utterances, personas)
