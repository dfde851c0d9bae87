"""PARus (choice of plausible alternatives): the official jsonl or the human-benchmark TSV (majority vote).

Context: the premise and a Russian question about its cause or effect (the benchmark's own wording);
reply: the right alternative.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from training.data.records import Dialogue
from training.data.sources.base import DataFormatError, SkipReport, read_jsonl
from training.data.sources.crowd import majority_items

NAME = "parus"
QUESTIONS = {"cause": "Что стало причиной этого?", "effect": "Что случилось в результате?"}


def _dialogue(dialogue_id: str, premise: str, question: str, answer: str) -> Dialogue:
    return Dialogue(dialogue_id, NAME, (" ".join(f"{premise} {question}".split()), " ".join(answer.split())))


def _read_jsonl(path: Path, report: SkipReport) -> Iterator[Dialogue]:
    for number, item in read_jsonl(path, report, NAME):
        try:
            choices = (item["choice1"], item["choice2"])
            premise, question, label = item["premise"], QUESTIONS[item["question"]], item.get("label")
        except (KeyError, TypeError):
            report.skip(NAME, "bad JSON line")
            continue
        if label not in (0, 1) or not premise.strip():
            report.skip(NAME, "unlabelled or empty item")  # the official test split has no labels
            continue
        yield _dialogue(f"{NAME}:{path.stem}:{item.get('idx', number)}", premise, question, choices[label])


def _read_assignments(path: Path, report: SkipReport) -> Iterator[Dialogue]:
    inputs = ("INPUT:sent1", "INPUT:sent2", "INPUT:premise", "INPUT:question")
    for number, item, answer in majority_items(path, inputs, "OUTPUT:variant", report, NAME):
        if answer not in ("0", "1") or not item["INPUT:premise"].strip():
            report.skip(NAME, "unknown answer or empty premise")
            continue
        choice = item[inputs[int(answer)]]
        yield _dialogue(f"{NAME}:{path.stem}:{number}", item["INPUT:premise"], item["INPUT:question"], choice)


def read_parus(path: Path, report: SkipReport) -> Iterator[Dialogue]:
    """``*.jsonl`` is the official format; ``*.tsv`` the human-benchmark assignments."""
    if path.suffix == ".jsonl":
        return _read_jsonl(path, report)
    if path.suffix == ".tsv":
        return _read_assignments(path, report)
    raise DataFormatError(f"{path}: PARus is read from .jsonl (official) or .tsv (human benchmark)")
