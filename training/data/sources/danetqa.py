"""DaNetQA (yes/no questions on a passage): the official jsonl or the human-benchmark TSV (majority vote).

The single context utterance is the question *followed* by the passage: utterances are cut to a token
limit from the end, so the question must come first to survive. The reply is «Да.» or «Нет.».
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from training.data.records import Dialogue
from training.data.sources.base import DataFormatError, SkipReport, read_jsonl
from training.data.sources.crowd import majority_items

NAME = "danetqa"
ANSWERS = {True: "Да.", False: "Нет."}


def _dialogue(dialogue_id: str, question: str, passage: str, label: bool) -> Dialogue:
    question = " ".join(question.split()).rstrip("?")
    question = question[:1].upper() + question[1:] + "?"
    return Dialogue(dialogue_id, NAME, (f"{question} {' '.join(passage.split())}", ANSWERS[label]))


def _read_jsonl(path: Path, report: SkipReport) -> Iterator[Dialogue]:
    for number, item in read_jsonl(path, report, NAME):
        question, passage, label = item.get("question"), item.get("passage"), item.get("label")
        if not isinstance(question, str) or not isinstance(passage, str):
            report.skip(NAME, "bad JSON line")
            continue
        if not isinstance(label, bool) or not question.strip() or not passage.strip():
            report.skip(NAME, "unlabelled or empty item")  # the official test split has no labels
            continue
        yield _dialogue(f"{NAME}:{path.stem}:{item.get('idx', number)}", question, passage, label)


def _read_assignments(path: Path, report: SkipReport) -> Iterator[Dialogue]:
    items = majority_items(path, ("INPUT:passage", "INPUT:question"), "OUTPUT:result", report, NAME)
    for number, inputs, answer in items:
        if answer not in ("true", "false") or not inputs["INPUT:question"].strip():
            report.skip(NAME, "unknown answer or empty question")
            continue
        yield _dialogue(f"{NAME}:{path.stem}:{number}", inputs["INPUT:question"], inputs["INPUT:passage"], answer == "true")


def read_danetqa(path: Path, report: SkipReport) -> Iterator[Dialogue]:
    """``*.jsonl`` is the official format; ``*.tsv`` the human-benchmark assignments."""
    if path.suffix == ".jsonl":
        return _read_jsonl(path, report)
    if path.suffix == ".tsv":
        return _read_assignments(path, report)
    raise DataFormatError(f"{path}: DaNetQA is read from .jsonl (official) or .tsv (human benchmark)")
