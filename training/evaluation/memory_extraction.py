"""How well the bot's memory reads people: precision and recall of ``dialogue.memory.self_statements`` on real
persona-chat utterances labelled by hand (``data/self_statements.tsv``).

    python -m training.evaluation.memory_extraction [--data-dir ../shared/data] [--show]

A fact counts as found when the reader returns one with the labelled slot for that utterance (per utterance, as
many as were labelled); "detection" leaves the slot aside and counts facts only. The texts are read from the
data set by dialogue id and utterance index, so the labels file holds none of them.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dialogue.memory import SLOTS, self_statements
from training import DEFAULT_DATA_DIR

LABELS_FILE = Path(__file__).resolve().parent / "data" / "self_statements.tsv"


@dataclass(frozen=True)
class Labelled:
    dialogue_id: str
    utterance: int
    text: str
    slots: tuple[str, ...]
    """The slot of each fact the utterance states about its speaker (empty: none)."""


def read_labels(data_dir: Path, path: Path = LABELS_FILE) -> list[Labelled]:
    """The labelled utterances with their texts from the persona chat in ``data_dir``."""
    from training.data.sources import SkipReport, read_source

    with path.open(encoding="utf-8") as stream:
        rows = list(csv.DictReader((line for line in stream if not line.startswith("#")), delimiter="\t"))
    for row in rows:
        unknown = set(_slots(row["slots"])) - set(SLOTS)
        if unknown:
            raise ValueError(f"{path}: unknown slots {sorted(unknown)} for {row['dialogue_id']}")
    wanted = {row["dialogue_id"] for row in rows}
    utterances = {d.dialogue_id: d.utterances for d in read_source("ru_persona_chat", data_dir, SkipReport())
                  if d.dialogue_id in wanted}
    missing = wanted - set(utterances)
    if missing:
        raise ValueError(f"{len(missing)} labelled dialogues are not in {data_dir} (e.g. {sorted(missing)[0]})")
    return [Labelled(row["dialogue_id"], int(row["utterance"]), utterances[row["dialogue_id"]][int(row["utterance"])],
                     _slots(row["slots"])) for row in rows]


def score(labelled: Sequence[Labelled]) -> dict:
    """Precision and recall by slot and for detection alone, and the counts they come from."""
    found = expected = matched = detected = 0
    per_slot = {slot: Counter() for slot in SLOTS}
    for item in labelled:
        predicted = Counter(fact.slot for fact in self_statements(item.text))
        gold = Counter(item.slots)
        both = predicted & gold
        found, expected, matched = found + sum(predicted.values()), expected + sum(gold.values()), matched + sum(both.values())
        detected += min(sum(predicted.values()), sum(gold.values()))
        for slot in SLOTS:
            per_slot[slot].update(found=predicted[slot], expected=gold[slot], matched=both[slot])
    return {
        "utterances": len(labelled),
        "facts_labelled": expected, "facts_found": found,
        "precision": matched / found if found else 0.0,
        "recall": matched / expected if expected else 0.0,
        "detection_precision": detected / found if found else 0.0,
        "detection_recall": detected / expected if expected else 0.0,
        "slots": {slot: dict(counts) for slot, counts in per_slot.items() if counts["expected"] or counts["found"]},
    }


def _slots(cell: str | None) -> tuple[str, ...]:
    return tuple(slot.strip() for slot in (cell or "").split(",") if slot.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluation.memory_extraction",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR)))
    parser.add_argument("--show", action="store_true", help="print every utterance with its labels and what was read")
    args = parser.parse_args(argv)
    try:
        labelled = read_labels(args.data_dir)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.show:
        for item in labelled:
            facts = [f"{f.slot}: {f.text}" for f in self_statements(item.text)]
            print(f"{item.text}\n  labelled {list(item.slots)}\n  read     {facts}")
    result = score(labelled)
    print(f"{result['utterances']} utterances, {result['facts_labelled']} facts labelled, {result['facts_found']} read: "
          f"precision {result['precision']:.2f}, recall {result['recall']:.2f} "
          f"(a fact at all, slot aside: {result['detection_precision']:.2f} / {result['detection_recall']:.2f})")
    for slot, counts in result["slots"].items():
        print(f"  {slot:7} labelled {counts.get('expected', 0):3}  read {counts.get('found', 0):3}  "
              f"right {counts.get('matched', 0):3}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
