"""The slides of a batch: paths, folders of slides, or a CSV manifest.

A manifest is a CSV file with a header row and a ``slide`` column; an optional
``out`` column names each slide's workspace folder. Relative paths are taken
from the manifest's folder::

    slide,out
    cases/A-001.svs,
    cases/A-002.svs,/scratch/results/A-002.histoseg

Read with the standard library's ``csv``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from napari_histoseg.io.errors import FileError

#: File name endings of the slide formats the reader opens (napari.yaml's patterns).
SLIDE_SUFFIXES = (".svs", ".ndpi", ".tif", ".tiff", ".mrxs", ".scn", ".bif", ".dcm")


class ManifestError(FileError):
    """A manifest, slide list or folder that cannot be used for a batch."""


@dataclass(frozen=True)
class BatchItem:
    """One slide of a batch and its workspace folder (None: the slide's default)."""

    slide: Path
    out_dir: Path | None = None


def slides_in_folder(folder: Path) -> list[Path]:
    """The slide files directly in ``folder`` (by suffix), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ManifestError(folder, "not a folder")
    slides = sorted(p for p in folder.iterdir()
                    if p.is_file() and p.name.lower().endswith(SLIDE_SUFFIXES))
    if not slides:
        raise ManifestError(folder, f"holds no slide files ({', '.join(SLIDE_SUFFIXES)})")
    return slides


def read_manifest(path: Path) -> list[BatchItem]:
    """The rows of a CSV manifest; ManifestError naming the file and row when one is bad."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            rows = list(csv.DictReader(file))
    except OSError as err:
        raise ManifestError(path, f"cannot be read ({err.strerror or err})") from err
    except (csv.Error, UnicodeDecodeError) as err:
        raise ManifestError(path, f"is not a CSV file ({err})") from err
    if not rows or "slide" not in rows[0]:
        raise ManifestError(path, "needs a header row with a 'slide' column and one row per "
                                  "slide, e.g. 'slide,out' then 'cases/A-001.svs,'")
    items = []
    for number, row in enumerate(rows, start=2):
        slide = (row.get("slide") or "").strip()
        if not slide:
            raise ManifestError(path, f"row {number} has no slide")
        out = (row.get("out") or "").strip()
        items.append(BatchItem(_beside(path, slide), _beside(path, out) if out else None))
    return check_items(items, path)


def items_from_paths(paths: list[Path], out_root: Path | None = None) -> list[BatchItem]:
    """Slides given on the command line (a folder stands for the slides in it).

    With ``out_root``, slide ``X.svs`` gets the workspace ``out_root/X.svs.histoseg``.
    """
    slides: list[Path] = []
    for path in map(Path, paths):
        slides.extend(slides_in_folder(path) if path.is_dir() else [path])
    items = [BatchItem(s, Path(out_root) / f"{s.name}.histoseg" if out_root else None)
             for s in slides]
    return check_items(items, Path(out_root) if out_root else Path.cwd())


def items_from_source(source: Path) -> list[BatchItem]:
    """A folder of slides or a CSV manifest (by its ``.csv`` suffix) as batch items."""
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        return read_manifest(source)
    if source.is_dir():
        return items_from_paths([source])
    raise ManifestError(source, "choose a folder of slides or a .csv manifest")


def check_items(items: list[BatchItem], source: Path) -> list[BatchItem]:
    """The items with absolute paths (workers may run elsewhere); refuse missing slides and
    two slides sharing one workspace folder."""
    missing = [str(item.slide) for item in items if not item.slide.is_file()]
    if missing:
        raise ManifestError(source, f"no such slide file: {', '.join(missing)}")
    seen: dict[Path, Path] = {}
    for item in items:
        folder = (item.out_dir or item.slide.with_name(item.slide.name + ".histoseg")).resolve()
        if folder in seen:
            raise ManifestError(source, f"{seen[folder]} and {item.slide} would share the "
                                        f"workspace {folder}; give each its own 'out'")
        seen[folder] = item.slide
    return [BatchItem(item.slide.resolve(), item.out_dir.resolve() if item.out_dir else None)
            for item in items]


def _beside(manifest: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else manifest.parent / path
