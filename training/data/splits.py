"""Deterministic splits by dialogue id.

Each dialogue id is hashed with the seed into a point of [0, 1): below ``test_fraction`` is test, below
``test_fraction + validation_fraction`` validation, the rest train. A dialogue's split depends on its
id and the seed alone, so adding data never moves another dialogue, and every hypothesis that reads
a dialogue puts it (and both of its roles) in the same split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from training.data.records import Dialogue

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitPlan:
    """How dialogues are split."""

    seed: int = 0
    """Changes every dialogue's hash point; the same seed gives the same splits everywhere."""
    validation_fraction: float = 0.05
    """Expected share of dialogues in validation."""
    test_fraction: float = 0.05
    """Expected share of dialogues in test."""

    def __post_init__(self) -> None:
        for name in ("validation_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise ValueError("validation_fraction + test_fraction must leave something to train on")

    def point(self, dialogue_id: str) -> float:
        digest = hashlib.sha256(f"{self.seed}\0{dialogue_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def split_of(self, dialogue_id: str) -> str:
        point = self.point(dialogue_id)
        if point < self.test_fraction:
            return "test"
        return "validation" if point < self.test_fraction + self.validation_fraction else "train"

    def split(self, dialogues: Iterable[Dialogue]) -> dict[str, list[Dialogue]]:
        parts: dict[str, list[Dialogue]] = {name: [] for name in SPLITS}
        for dialogue in dialogues:
            parts[self.split_of(dialogue.dialogue_id)].append(dialogue)
        return parts
