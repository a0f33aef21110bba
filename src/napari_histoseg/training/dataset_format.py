"""The on-disk training dataset: PNG patches and one JSON manifest.

Layout of a dataset folder::

    manifest.json     format, build parameters, classes, sources, one entry per patch
    images/ID.png     (h, w, 3) uint8 RGB at the dataset's µm/px (stain-normalised if the
                      manifest says so)
    masks/ID.png      (h, w) uint8 class ids
    summary.png       tumour-fraction histogram per split (HI-Net Fig. 2)

The manifest is written last, atomically: a folder without one is an unfinished
build. Patch entries carry their split ("train", "val", "test"), source, group
(the source image or slide they were cut from), location (y, x) and size (h, w)
in the resampled source image, tumour and tissue fractions, sampling weight, and the stain statistics of
their source image before normalisation (``stain.StainStats``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from napari_histoseg.io.atomic import atomic_write_bytes
from napari_histoseg.io.errors import FileError
from napari_histoseg.io.safe_paths import inside

FORMAT = "napari-histoseg-dataset"
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")


class DatasetError(FileError):
    """A dataset folder that cannot be used; the message names the folder."""


@dataclass(frozen=True)
class PatchEntry:
    """One patch of a built dataset (paths relative to the dataset folder)."""

    id: str
    split: str
    source: str
    group: str
    image: str
    mask: str
    location: tuple[int, int]
    size: tuple[int, int]
    tumour_fraction: float
    tissue_fraction: float
    weight: float = 1.0
    source_stain: dict | None = None


@dataclass(frozen=True)
class Manifest:
    """What a dataset holds and how it was built."""

    mpp: float
    class_names: tuple[str, ...]
    stain: dict | None
    params: dict
    sources: list[dict]
    patches: list[PatchEntry]

    def split(self, name: str) -> list[PatchEntry]:
        if name == "all":
            return list(self.patches)
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or 'all', got {name!r}")
        return [p for p in self.patches if p.split == name]

    def write(self, root: Path) -> Path:
        data = {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}
        return write_json_atomic(root / "manifest.json", data)


def read_manifest(root: str | Path) -> Manifest:
    """The manifest of a built dataset; DatasetError naming the folder when it is missing or bad."""
    root = Path(root)
    path = root / "manifest.json"
    if not path.is_file():
        raise DatasetError(root, "no manifest.json: not a built dataset (or its build did not "
                                 "finish); build one with `histoseg build-dataset`")
    try:
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, not {FORMAT!r}")
        patches = [PatchEntry(**{**p, "location": tuple(p["location"]), "size": tuple(p["size"])})
                   for p in data["patches"]]
        for patch in patches:  # every patch file lies inside the dataset folder
            inside(root, patch.image, f"patch {patch.id!r} image", path, DatasetError)
            inside(root, patch.mask, f"patch {patch.id!r} mask", path, DatasetError)
        return Manifest(float(data["mpp"]), tuple(data["class_names"]), data.get("stain"),
                        data["params"], data["sources"], patches)
    except DatasetError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise DatasetError(path, f"invalid manifest ({error})") from error


def write_json_atomic(path: Path, data) -> Path:
    """Write ``data`` as JSON, whole or not at all (``io.atomic``)."""
    return atomic_write_bytes(path, json.dumps(data, indent=1).encode())
