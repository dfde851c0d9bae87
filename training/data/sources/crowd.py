"""Russian SuperGLUE human-benchmark assignments (Toloka TSV, ``;``-separated): one row per worker answer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from training.data.sources.base import SkipReport, majority, read_delimited


def majority_items(
    path: Path, inputs: Sequence[str], output: str, report: SkipReport, source: str
) -> Iterator[tuple[int, dict[str, str], str]]:
    """``(item number, inputs, majority answer)`` for each distinct item; ties are skipped and counted."""
    votes: dict[tuple[str, ...], list[str]] = {}
    for row in read_delimited(path, ";", (*inputs, output)):
        answer = (row[output] or "").strip()
        if answer:  # an empty answer is a worker who skipped the item, not a vote
            votes.setdefault(tuple(row[key] or "" for key in inputs), []).append(answer)
    for number, (key, answers) in enumerate(votes.items()):
        report.seen(source)
        winner = majority(answers)
        if winner is None:
            report.skip(source, "tied crowd vote")
            continue
        yield number, dict(zip(inputs, key)), winner
