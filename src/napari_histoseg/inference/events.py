"""Events a segmentation run yields, and the summary it returns (small frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class Progress:
    """Tiles finished so far (of those this run plans), and seconds since the start."""

    done: int
    total: int
    elapsed_s: float


@dataclass(frozen=True)
class TileResult:
    """A finished tile. ``location``/``size`` are its core in level-0 slide px (y, x)/(h, w);
    ``level`` is the results pyramid level they were written to (0)."""

    index: tuple[int, int]
    location: tuple[int, int]
    size: tuple[int, int]
    level: int = 0


@dataclass(frozen=True)
class BatchSizeReduced:
    """The device ran out of memory; the batch was retried with ``batch_size`` tiles."""

    batch_size: int
    message: str


Event = Union[Progress, TileResult, BatchSizeReduced]


@dataclass(frozen=True)
class RunSummary:
    """What a run did. Times in seconds; ``cancelled`` when stopped before the end;
    ``tiles_skipped``: tiles left out because the slide is damaged under them (they stay
    not computed and are listed in the run log as "tile-skipped")."""

    tiles_planned: int
    tiles_already_done: int
    tiles_computed: int
    cancelled: bool
    elapsed_s: float
    read_s: float
    compute_s: float
    write_s: float
    batch_size: int
    device: str
    tiles_skipped: int = 0

    @property
    def skipped_note(self) -> str:
        """A sentence for the user about skipped tiles, or ""."""
        if not self.tiles_skipped:
            return ""
        return (f"{self.tiles_skipped} tile(s) skipped: the slide cannot be decoded there "
                "(listed in the workspace's runs.jsonl); they stay not computed.")
