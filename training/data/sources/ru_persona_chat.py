"""Toloka Persona Chat Rus (``dialogues.tsv``): two crowd workers chatting, each with a 5-fact profile.

Columns ``persona_1_profile``, ``persona_2_profile``: ``<span class=participant_N>fact<br />fact…</span>``.
Column ``dialogue``: ``<span class=participant_N>Пользователь N: text</span><br />…``; one worker often
sends several spans in a row (merged into one utterance here) and texts may hold ``<br />`` line breaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from training.data.records import Dialogue
from training.data.sources.base import SkipReport, merge_turns, read_delimited

NAME = "ru_persona_chat"
COLUMNS = ("persona_1_profile", "persona_2_profile", "dialogue")
_SPEAKER_PREFIX = re.compile(r"^\s*Пользователь\s*\d+\s*:\s*")


class _SpanParser(HTMLParser):
    """Collects ``(class, text)`` of every top-level ``<span>``; ``<br>`` becomes a line break."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.spans: list[tuple[str, str]] = []
        self._current: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "span" and self._current is None:
            self._current = (dict(attrs).get("class") or "", [])
        elif tag == "br" and self._current is not None:
            self._current[1].append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._current is not None:
            self.spans.append((self._current[0], "".join(self._current[1])))
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:  # text between spans is layout (quotes, stray breaks)
            self._current[1].append(data)


def parse_spans(html: str) -> list[tuple[str, str]]:
    """``(class, text)`` of the complete spans in ``html``; an unclosed span is dropped."""
    parser = _SpanParser()
    parser.feed(html)
    parser.close()
    return parser.spans


def _facts(profile_html: str) -> tuple[str, tuple[str, ...]] | None:
    spans = parse_spans(profile_html)
    if len(spans) != 1:
        return None
    owner, text = spans[0]
    return owner, tuple(fact for fact in (" ".join(line.split()) for line in text.split("\n")) if fact)


def read_ru_persona_chat(path: Path, report: SkipReport) -> Iterator[Dialogue]:
    """Dialogues with ``personas`` {0: facts of whoever speaks first, 1: facts of the other}."""
    for row_number, row in enumerate(read_delimited(path, "\t", COLUMNS)):
        report.seen(NAME)
        profiles = [_facts(row[column] or "") for column in COLUMNS[:2]]
        if None in profiles or profiles[0][0] == profiles[1][0]:
            report.skip(NAME, "broken profile HTML")
            continue
        facts_of = dict(profiles)  # span class (participant_N) -> facts
        turns = []
        for owner, text in parse_spans(row["dialogue"] or ""):
            text = " ".join(_SPEAKER_PREFIX.sub("", text).split())
            if text:
                turns.append((owner, text))
        if not turns:
            report.skip(NAME, "no dialogue spans")
            continue
        speakers, utterances = merge_turns(turns)
        if len(utterances) < 2:
            report.skip(NAME, "one-sided dialogue")
            continue
        if not set(speakers) <= set(facts_of):
            report.skip(NAME, "speaker without a profile")
            continue
        yield Dialogue(
            dialogue_id=f"{NAME}:{row_number}",
            source=NAME,
            utterances=tuple(utterances),
            personas={0: facts_of[speakers[0]], 1: facts_of[speakers[1]]},
        )
