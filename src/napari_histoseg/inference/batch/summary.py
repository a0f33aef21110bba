"""The batch summary: one CSV row per slide (slide, status, time, error, ...), written atomically.

Written with the standard library's ``csv``; the file is whole or absent
(``io.atomic``), so a summary is never half a batch.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from napari_histoseg.inference.batch.worker import SlideOutcome
from napari_histoseg.io.atomic import atomic_write_bytes

COLUMNS = ("slide", "status", "time_s", "error", "tiles_computed", "tiles_already_done",
           "workspace", "worker")


def summary_csv(outcomes: list[SlideOutcome]) -> str:
    """The summary as CSV text: a header, then one row per slide in the batch's order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for o in outcomes:
        writer.writerow([o.slide, o.status, f"{o.seconds:.1f}", " ".join(o.error.split()),
                         o.tiles_computed, o.tiles_already_done, o.workspace, o.worker])
    return buffer.getvalue()


def write_summary(outcomes: list[SlideOutcome], path: Path) -> Path:
    """Write :func:`summary_csv` to ``path`` (replacing it atomically); the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, summary_csv(outcomes).encode("utf-8"))
    return path
