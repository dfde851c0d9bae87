"""What every source reader shares: the skip report, the errors, small reading helpers."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Toloka dialogues are single CSV fields of tens of kilobytes.
csv.field_size_limit(sys.maxsize)


class SourceUnavailable(FileNotFoundError):
    """A source file is missing and could not be downloaded; the message says where to get it."""


class DataFormatError(ValueError):
    """A file is not in the format its reader expects (e.g. missing columns): a wrong file, not a bad row."""


@dataclass
class SkipReport:
    """Counts rows read and rows skipped (by source and reason), so a summary can say what was lost."""

    read: Counter[str] = field(default_factory=Counter)
    """Rows (dialogues, items) seen per source, kept or not."""
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Rows skipped per (source, reason)."""

    def seen(self, source: str) -> None:
        self.read[source] += 1

    def skip(self, source: str, reason: str) -> None:
        self.skipped[(source, reason)] += 1

    def skipped_in(self, source: str) -> int:
        return sum(n for (name, _), n in self.skipped.items() if name == source)

    def skipped_share(self, source: str) -> float:
        return self.skipped_in(source) / self.read[source] if self.read[source] else 0.0

    def as_rows(self) -> list[dict[str, object]]:
        return [{"source": s, "reason": r, "rows": n} for (s, r), n in sorted(self.skipped.items())]


def read_delimited(path: Path, delimiter: str, required: Iterable[str]) -> Iterator[dict[str, str]]:
    """Rows of a CSV/TSV file as dicts; a file without the ``required`` columns is a format error."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        missing = set(required) - set(reader.fieldnames or ())
        if missing:
            raise DataFormatError(f"{path}: missing columns {sorted(missing)}; found {reader.fieldnames}")
        yield from reader


def read_jsonl(path: Path, report: SkipReport, source: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each JSON-object line; blank lines are passed over, bad ones counted."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            report.seen(source)
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                item = None
            if not isinstance(item, dict):
                report.skip(source, "bad JSON line")
                continue
            yield number, item


def majority(votes: Iterable[str]) -> str | None:
    """The answer most workers gave, or None on a tie (crowd benchmarks have no gold labels)."""
    ranked = Counter(votes).most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def merge_turns(turns: Iterable[tuple[object, str]]) -> tuple[list[object], list[str]]:
    """Merge consecutive turns of one speaker, so that speakers alternate.

    Returns the speaker of each merged utterance and the utterances (joined with a space).
    """
    speakers: list[object] = []
    utterances: list[str] = []
    for speaker, text in turns:
        if speakers and speakers[-1] == speaker:
            utterances[-1] = f"{utterances[-1]} {text}"
        else:
            speakers.append(speaker)
            utterances.append(text)
    return speakers, utterances
