"""Deterministic splits by dialogue id.

Each dialogue id is hashed with the seed into a point of [0, 1): below ``test_fraction`` is test, below
``test_fraction + validation_fraction`` validation, the rest train. A dialogue's split depends on its
id and the seed alone, so adding data never moves another dialogue, and every hypothesis that reads
a dialogue puts it (and both of its roles) in the same split.

Profiles repeat across the persona chat's dialogues (1,505 in 9,513), so such a split tests on personas seen in
training. ``held_out_profiles`` makes it profile-disjoint: each profile (its facts) is hashed the same way, that
share of them is held out, and a dialogue between two held-out profiles is test, one between two others train or
validation, and one between a held-out profile and another is left out.
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
    held_out_profiles: float = 0.0
    """Above 0: the expected share of profiles held out, and the split of dialogues with personas profile-disjoint
    (``test_fraction`` then applies only to dialogues without personas)."""

    def __post_init__(self) -> None:
        for name in ("validation_fraction", "test_fraction", "held_out_profiles"):
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

    def held_out(self, facts: Iterable[str]) -> bool:
        """Whether a profile is held out of training (``held_out_profiles``)."""
        return self.point("profile\0" + "\n".join(sorted(facts))) < self.held_out_profiles

    def split_of_dialogue(self, dialogue: Dialogue) -> str | None:
        """The dialogue's split; None where a profile-disjoint split leaves it out."""
        if not (self.held_out_profiles and dialogue.personas):
            return self.split_of(dialogue.dialogue_id)
        held = [self.held_out(facts) for facts in dialogue.personas.values()]
        if all(held):
            return "test"
        if any(held):
            return None
        return "validation" if self.point(dialogue.dialogue_id) < self.validation_fraction else "train"

    def split(self, dialogues: Iterable[Dialogue]) -> dict[str, list[Dialogue]]:
        parts: dict[str, list[Dialogue]] = {name: [] for name in SPLITS}
        for dialogue in dialogues:
            if (split := self.split_of_dialogue(dialogue)) is not None:
                parts[split].append(dialogue)
        return parts
