"""CSV of a report: its summary row, its lesion table, and a batch of slides (csv module).

Every area is in mm², every length in mm, every position in level-0 slide pixels (y, x),
so a row can be found again in any viewer. Files are written whole or not at all
(temporary file, fsync, rename).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from napari_histoseg.io.atomic import atomic_write_bytes
from napari_histoseg.report.slide_report import SlideReport


def summary_row(report: SlideReport) -> dict:
    """One row: category, largest lesion, areas, provenance."""
    largest, areas, p = report.largest, report.areas, report.provenance
    row = {"slide": report.name, "category": report.category,
           "largest_diameter_mm": round(largest.diameter_mm, 6) if largest else 0.0,
           "largest_area_mm2": round(largest.area_mm2, 6) if largest else 0.0,
           "lesions": len(report.lesions), "tumour_mm2": round(areas.tumour_mm2, 6),
           "tissue_mm2": round(areas.tissue_mm2, 6),
           "tumour_fraction": round(areas.tumour_fraction, 6)}
    row |= {f"{name}_mm2": round(area, 6) for name, area in list(areas.by_class.items())[1:]}
    row |= {"tissue_not_computed_mm2": round(areas.tissue_not_computed_mm2, 6),
            "tissue_source": areas.tissue_source, "mask_um_per_px": report.mask_mpp[1],
            "model": p.model, "model_sha256": p.model_sha256, "runs": p.runs,
            "run_seconds": round(p.run_seconds, 3), "last_run": p.last_run,
            "corrections": p.corrections, "corrected_mm2": round(p.corrected_mm2, 6),
            "correction_authors": ";".join(p.authors), "slide_path": report.slide,
            "workspace": report.workspace, "created": report.created}
    return row


def lesion_rows(report: SlideReport) -> list[dict]:
    """One row per lesion, longest first."""
    rows = []
    for lesion in report.lesions:
        y0, x0, y1, x1 = lesion.box
        row = {"slide": report.name, "rank": lesion.rank,
               "diameter_mm": round(lesion.diameter_mm, 6), "area_mm2": round(lesion.area_mm2, 6),
               "centroid_y_px": round(lesion.centroid[0], 1),
               "centroid_x_px": round(lesion.centroid[1], 1),
               "box_y0_px": y0, "box_x0_px": x0, "box_y1_px": y1, "box_x1_px": x1}
        rows.append(row | {f"{name}_mm2": round(area, 6)
                           for name, area in lesion.class_mm2.items()})
    return rows


def csv_text(rows: list[dict]) -> str:
    """Rows as CSV text; the columns are the union of the rows' keys, in first-seen order."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(path: str | Path, rows: list[dict]) -> Path:
    """Write rows to ``path`` atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, csv_text(rows).encode("utf-8"))
    return path


def write_report_csv(report: SlideReport, path: str | Path) -> tuple[Path, Path]:
    """The summary row to ``path`` and the lesion table beside it (``<stem>-lesions.csv``)."""
    path = Path(path)
    lesions = path.with_name(f"{path.stem}-lesions{path.suffix or '.csv'}")
    return write_csv(path, [summary_row(report)]), write_csv(lesions, lesion_rows(report))
