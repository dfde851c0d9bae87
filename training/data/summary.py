"""What a data set build did: sources used, samples per source and split, rows skipped and why."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SUMMARY_FILE = "summary.json"


@dataclass
class DataSummary:
    """Saved beside the cached data set as ``summary.json`` and printed by ``python -m training.data``."""

    hypothesis: str
    """The hypothesis the data set was built for."""
    seed: int
    """The split and mixture seed."""
    sources: dict[str, str] = field(default_factory=dict)
    """Source asked for -> source read (differs when a stand-in was used)."""
    missing: dict[str, str] = field(default_factory=dict)
    """Mixture sources that could not be had -> why (the mix goes on without them)."""
    rows_read: dict[str, int] = field(default_factory=dict)
    """Rows (dialogues, items) read per source."""
    skipped: list[dict[str, Any]] = field(default_factory=list)
    """Rows skipped: ``{"source", "reason", "rows"}``."""
    dialogues: dict[str, dict[str, int]] = field(default_factory=dict)
    """Split -> source -> dialogues."""
    samples: dict[str, dict[str, int]] = field(default_factory=dict)
    """Split -> source -> samples (after mixing)."""
    path: str | None = None
    """Where the data set is saved (None when not cached)."""

    def save(self, directory: Path) -> None:
        (directory / SUMMARY_FILE).write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> DataSummary:
        return cls(**json.loads((directory / SUMMARY_FILE).read_text(encoding="utf-8")))

    def format(self) -> str:
        lines = [f"hypothesis {self.hypothesis}, seed {self.seed}"]
        lines += [f"  {asked} -> read from {used} (stand-in)" for asked, used in self.sources.items() if asked != used]
        lines += [f"  MISSING {name}: {why}" for name, why in self.missing.items()]
        splits = list(self.samples)
        names = sorted({s for per_split in self.samples.values() for s in per_split})
        lines.append("samples (dialogues) per source and split:")
        lines.append("  " + "source".ljust(24) + "".join(s.rjust(20) for s in splits) + "share of train".rjust(16))
        train_total = sum(self.samples.get("train", {}).values()) or 1
        for name in names:
            cells = "".join(
                f"{self.samples[s].get(name, 0)} ({self.dialogues.get(s, {}).get(name, 0)})".rjust(20) for s in splits
            )
            share = self.samples.get("train", {}).get(name, 0) / train_total
            lines.append("  " + name.ljust(24) + cells + f"{share:16.1%}")
        totals = "".join(str(sum(self.samples[s].values())).rjust(20) for s in splits)
        lines.append("  " + "total".ljust(24) + totals)
        lines.append("rows read / skipped:")
        for name, read in sorted(self.rows_read.items()):
            reasons = [f"{r['reason']}: {r['rows']}" for r in self.skipped if r["source"] == name]
            skipped = sum(r["rows"] for r in self.skipped if r["source"] == name)
            detail = f" ({'; '.join(reasons)})" if reasons else ""
            lines.append(f"  {name:<24}{read:>9} read, {skipped} skipped ({skipped / max(read, 1):.2%}){detail}")
        lines.append(f"saved to {self.path}" if self.path else "not cached (no cache dir)")
        return "\n".join(lines)
