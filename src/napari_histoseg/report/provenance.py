"""Where a mask came from: model, run times and human corrections (the workspace's logs).

The model's name and weights hash come from the result store's spec; the runs from the
workspace's run log (``runs.jsonl``, :class:`~napari_histoseg.io.workspace.RunLog`), where
every ``segment-end`` record with the store's model hash counts; the corrections from the
:class:`~napari_histoseg.io.corrections.CorrectionStore` (records in ``corrections/``;
their ``area_changed_um2`` summed, so an area edited twice counts twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from napari_histoseg.io.corrections import CorrectionError, CorrectionStore
from napari_histoseg.io.workspace import RunLog


@dataclass(frozen=True)
class Provenance:
    """Model, runs and corrections behind one mask.

    Attributes:
        model: model name or checkpoint file; ``model_sha256``: its weights' hash.
        runs: finished or cancelled runs logged for this model hash.
        run_seconds: their summed wall time, s; ``last_run``: time stamp of the last one.
        device: device of the last run.
        corrections: number of committed correction records.
        corrected_mm2: their summed changed area, mm².
        authors: who made them; ``last_correction``: time of the last one.
        note: why something could not be read ("" when all was read).
    """

    model: str
    model_sha256: str
    runs: int = 0
    run_seconds: float = 0.0
    last_run: str = ""
    device: str = ""
    corrections: int = 0
    corrected_mm2: float = 0.0
    authors: tuple[str, ...] = ()
    last_correction: str = ""
    note: str = ""

    @property
    def corrected(self) -> bool:
        return self.corrections > 0


def read_provenance(workspace_root: str | Path, model: str, model_sha256: str) -> Provenance:
    """The provenance of the mask in ``workspace_root`` made by ``model`` (its hash)."""
    root = Path(workspace_root)
    ends = [r for r in RunLog(root / "runs.jsonl").records()
            if r.get("event") == "segment-end" and r.get("checkpoint_sha256", "") == model_sha256]
    entries, note = _correction_entries(root / "corrections")
    return Provenance(
        model=model, model_sha256=model_sha256, runs=len(ends),
        run_seconds=float(sum(float(r.get("elapsed_s") or 0.0) for r in ends)),
        last_run=str(ends[-1].get("time", "")) if ends else "",
        device=str(ends[-1].get("device", "")) if ends else "",
        corrections=len(entries),
        corrected_mm2=sum(float(e.get("area_changed_um2", 0.0)) for e in entries) / 1e6,
        authors=tuple(sorted({str(e.get("author", "unknown")) for e in entries})),
        last_correction=str(entries[-1].get("time", "")) if entries else "", note=note)


def _correction_entries(folder: Path) -> tuple[list[dict], str]:
    """The correction records' meta, oldest first, and a note when they cannot be read."""
    if not (folder / "records").is_dir():
        return [], ""
    try:
        return CorrectionStore(folder).entries(), ""
    except (CorrectionError, OSError) as err:
        return [], f"corrections could not be read: {err}"
