"""RuBQ 1.0 / 2.0 (JSON list of questions): each question and its answer is a two-utterance dialogue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from training.data.records import Dialogue
from training.data.sources.base import DataFormatError, SkipReport

NAME = "rubq"


def _answer(item: dict) -> str:
    # answer_text is the curated wording; 2.0 also labels each answer entity (1.0 does not).
    text = item.get("answer_text") or next((a.get("label") for a in item.get("answers") or () if a.get("label")), "")
    return " ".join(str(text or "").split())


def read_rubq(path: Path, report: SkipReport) -> Iterator[Dialogue]:
    """Question -> answer (first letter capitalised), no persona."""
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(items, list):
        raise DataFormatError(f"{path}: expected a JSON list of questions, got {type(items).__name__}")
    for number, item in enumerate(items):
        report.seen(NAME)
        if not isinstance(item, dict) or "question_text" not in item:
            report.skip(NAME, "not a question record")
            continue
        question, answer = " ".join(str(item["question_text"] or "").split()), _answer(item)
        if not question or not answer:
            report.skip(NAME, "empty question or answer")
            continue
        uid = item.get("uid", number)
        yield Dialogue(f"{NAME}:{path.stem}:{uid}", NAME, (question, answer[:1].upper() + answer[1:]))
