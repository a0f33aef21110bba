"""What a training child has reported so far: curves, ETA and a status line.

The Retrain dock feeds every stdout line of ``histoseg train --json`` to
:meth:`RunProgress.feed` and draws ``epochs`` against ``losses`` and ``val_miou``.
The ETA is the mean wall time between the last few epoch reports (the first
epoch's own duration before there are two) times the epochs left. No Qt, no torch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

ETA_WINDOW = 3


@dataclass
class RunProgress:
    """Accumulated events of one run; ``finished`` holds the last record once training ends."""

    total_epochs: int = 0
    first_epoch: int = 0
    epochs: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    val_miou: list[float] = field(default_factory=list)
    intervals: list[float] = field(default_factory=list)
    finished: dict | None = None
    other_lines: list[str] = field(default_factory=list)
    _last_time: float | None = None

    def feed(self, line: str, now: float | None = None) -> dict | None:
        """Take one stdout line; the parsed record, or None for a line that is not one."""
        now = time.monotonic() if now is None else now
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or "type" not in record:
            if line.strip():
                self.other_lines.append(line.strip())
            return None
        if record["type"] == "started":
            self.total_epochs = int(record["epochs"])
            self.first_epoch = int(record["resumed_from_epoch"])
            self._last_time = now
        elif record["type"] == "epoch":
            self._add_epoch(record, now)
        elif record["type"] == "finished":
            self.finished = record
        return record

    def _add_epoch(self, record: dict, now: float) -> None:
        self.epochs.append(int(record["epoch"]))
        self.losses.append(float(record["train_loss"]))
        self.val_miou.append(float(record["val"]["miou"]) if record.get("val") else float("nan"))
        since = now - self._last_time if self._last_time is not None else float(record["seconds"])
        self.intervals.append(since)
        self._last_time = now

    def eta_seconds(self) -> float | None:
        """Seconds until the last epoch ends, or None before the first epoch."""
        if not self.intervals:
            return None
        recent = self.intervals[-ETA_WINDOW:]
        return sum(recent) / len(recent) * max(self.total_epochs - self.epochs[-1], 0)

    def status(self) -> str:
        """One line for the dock: epoch n of N, the latest figures and the ETA."""
        if self.finished is not None:
            return f"Training done; best epoch {self.finished['best_epoch']}. Evaluating old and new…"
        if not self.epochs:
            return "Starting the training process…" if not self.total_epochs else (
                f"Training epoch {self.first_epoch + 1} of {self.total_epochs}…")
        eta = self.eta_seconds()
        return (f"Epoch {self.epochs[-1]} of {self.total_epochs}: loss {self.losses[-1]:.3f}, "
                f"val MIoU {self.val_miou[-1]:.3f}; about {format_duration(eta)} left")


def format_duration(seconds: float) -> str:
    """``"45 s"``, ``"3 min 20 s"`` or ``"1 h 05 min"``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
