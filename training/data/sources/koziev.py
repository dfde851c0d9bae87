"""Koziev's dialogue corpora (Cornell in Russian, anekdots, Flibusta): ``.tar.xz`` archives of ``.txt``.

Each dialogue is a block of ``- utterance`` lines (speakers alternate), blocks are separated by blank
lines. Archives are read as streams, never unpacked to disk (Flibusta is ~400 MB).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

from training.data.records import Dialogue
from training.data.sources.base import DataFormatError, SkipReport


def _blocks(lines: Iterator[str]) -> Iterator[list[str]]:
    """Utterances of each blank-line separated block; a line without a dash continues the last one."""
    block: list[str] = []
    for line in lines:
        text = line.strip()
        if not text:
            if block:
                yield block
            block = []
        elif text.startswith("-"):
            block.append(text[1:].strip())
        elif block:
            block[-1] = f"{block[-1]} {text}"
        else:
            block.append(text)
    if block:
        yield block


def read_dash_dialogues(path: Path, report: SkipReport, source: str) -> Iterator[Dialogue]:
    """Dialogues of every ``.txt`` member of the ``.tar.xz`` at ``path``, labelled ``source``."""
    try:
        archive = tarfile.open(path, "r:*")
    except tarfile.TarError as exc:
        raise DataFormatError(f"{path}: not a tar archive ({exc})") from None
    with archive:
        texts = 0
        for member in archive:  # streaming: members come in archive order
            if not (member.isfile() and member.name.endswith(".txt")):
                continue
            texts += 1
            handle = io.TextIOWrapper(archive.extractfile(member), encoding="utf-8", errors="replace")
            for number, utterances in enumerate(_blocks(handle)):
                report.seen(source)
                if not all(utterances):
                    report.skip(source, "empty utterance")
                elif len(utterances) < 2:
                    report.skip(source, "one-sided dialogue")
                else:
                    yield Dialogue(f"{source}:{Path(member.name).stem}:{number}", source, tuple(utterances))
        if texts == 0:
            raise DataFormatError(f"{path}: the archive holds no .txt file of dialogues")


def read_cornell(path: Path, report: SkipReport) -> Iterator[Dialogue]:
    return read_dash_dialogues(path, report, "cornell")


def read_anekdots(path: Path, report: SkipReport) -> Iterator[Dialogue]:
    return read_dash_dialogues(path, report, "anekdots")


def read_flibusta(path: Path, report: SkipReport) -> Iterator[Dialogue]:
    return read_dash_dialogues(path, report, "flibusta")
