"""What one benchmark path measured: per concurrency level, latencies and throughput."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LevelResult:
    """``len(latencies_ms)`` replies served in ``seconds`` with ``concurrency`` requests in flight."""

    concurrency: int
    latencies_ms: tuple[float, ...]
    seconds: float
    tokens: int
    """Reply tokens, counted by re-tokenising the replies (the same rule for every path)."""

    def __post_init__(self) -> None:
        if not self.latencies_ms or self.seconds <= 0:
            raise ValueError("a level needs at least one reply and a positive duration")

    @property
    def replies_per_s(self) -> float:
        return len(self.latencies_ms) / self.seconds

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q))


@dataclass(frozen=True)
class PathResult:
    """One way of serving replies, measured in its own process."""

    name: str
    label: str
    levels: dict[int, LevelResult]
    peak_rss_mb: float
    """The process's RSS high-water mark: interpreter, libraries, model and the run."""

    @property
    def single(self) -> LevelResult:
        """Single-request latency comes from the lowest concurrency level (1 by default)."""
        return self.levels[min(self.levels)]
