"""Region lists on disk: the workspace's ``explain.json``, and CSV and GeoJSON exports.

A region list is key regions (:class:`KeyRegion`) or review items
(:class:`ReviewItem`); each has a ``rank``, a ``box`` (y0, x0, y1, x1) in level-0
slide px and a ``score``, plus its own measures. Files are written atomically
(temporary file, fsync, rename).

GeoJSON follows QuPath's conventions (level-0 px, x right, y down): one
rectangle ``Feature`` per region, ``objectType`` "annotation", classified as
"key region" or "review", with the rank, score and measures in its properties.
CSV has one row per region: the box in level-0 px, its centre in µm, and the
measures.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Sequence

from napari_histoseg.explain.key_regions import KeyRegion
from napari_histoseg.explain.uncertainty import ReviewItem
from napari_histoseg.io.atomic import atomic_write_bytes
from napari_histoseg.io.errors import FileError

EXPLAIN_NAME = "explain.json"
FORMAT = 1
CLASSES = {KeyRegion: ("key region", [255, 128, 0]), ReviewItem: ("review", [0, 160, 255])}


class ExplainFileError(FileError):
    """An ``explain.json`` that cannot be read; the message names it."""


def save_explanation(folder: Path, regions: Sequence[KeyRegion], queue: Sequence[ReviewItem],
                     settings: dict) -> Path:
    """Write ``folder/explain.json`` with the regions, the queue and the run's settings."""
    record = {"format": FORMAT, "settings": settings,
              "key_regions": [asdict(r) for r in regions], "queue": [asdict(q) for q in queue]}
    return atomic_write_bytes(Path(folder) / EXPLAIN_NAME,
                              json.dumps(record, indent=1).encode("utf-8"))


def load_explanation(folder: Path) -> tuple[list[KeyRegion], list[ReviewItem], dict] | None:
    """The regions, queue and settings in ``folder/explain.json``; None when absent."""
    path = Path(folder) / EXPLAIN_NAME
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("format") != FORMAT:
            raise ValueError(f"format {record.get('format')!r}, this version reads {FORMAT}")
        regions = [_rebuild(KeyRegion, item) for item in record["key_regions"]]
        queue = [_rebuild(ReviewItem, item) for item in record["queue"]]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ExplainFileError(path, f"cannot be read ({err}); compute the explanation "
                                     "again (Explain dock or `histoseg explain`)") from err
    return regions, queue, record.get("settings", {})


def _rebuild(kind, item: dict):
    values = {f.name: item[f.name] for f in fields(kind)}
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def regions_csv(regions: Sequence[KeyRegion | ReviewItem],
                slide_mpp: tuple[float, float]) -> str:
    """CSV text: rank, score, box (level-0 px), centre (µm) and each region's own measures."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    extra = _measures(regions)
    writer.writerow(["rank", "score", "y0_px", "x0_px", "y1_px", "x1_px",
                     "centre_y_um", "centre_x_um", *extra])
    for region in regions:
        y0, x0, y1, x1 = region.box
        values = asdict(region)
        writer.writerow([region.rank, f"{region.score:.6g}", *(f"{v:g}" for v in region.box),
                         f"{(y0 + y1) / 2 * slide_mpp[0]:.2f}",
                         f"{(x0 + x1) / 2 * slide_mpp[1]:.2f}",
                         *(_cell(values[name]) for name in extra)])
    return out.getvalue()


def regions_geojson(regions: Sequence[KeyRegion | ReviewItem]) -> dict:
    """A GeoJSON FeatureCollection: one rectangle per region, in level-0 px (x, y)."""
    features = []
    for region in regions:
        y0, x0, y1, x1 = region.box
        name, color = CLASSES[type(region)]
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        properties = {k: v for k, v in asdict(region).items() if k != "box"}
        features.append({"type": "Feature",
                         "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": {"objectType": "annotation", "isLocked": False,
                                        "name": f"{name} {region.rank + 1}",
                                        "classification": {"name": name, "color": color},
                                        "measurements": properties}})
    return {"type": "FeatureCollection", "features": features}


def export_regions(regions: Sequence[KeyRegion | ReviewItem], path: str | Path,
                   slide_mpp: tuple[float, float]) -> Path:
    """Write ``regions`` to ``path`` as CSV (.csv) or GeoJSON (.geojson, .json)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        data = regions_csv(regions, slide_mpp)
    elif suffix in (".geojson", ".json"):
        data = json.dumps(regions_geojson(regions), indent=1)
    else:
        raise FileError(path, "unknown export format; name the file .csv or .geojson")
    return atomic_write_bytes(path, data.encode("utf-8"))


def _measures(regions: Sequence[KeyRegion | ReviewItem]) -> list[str]:
    if not regions:
        return []
    return [f.name for f in fields(regions[0]) if f.name not in ("rank", "box", "score")]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return str(value)
