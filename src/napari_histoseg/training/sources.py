"""Where training data comes from: folders of image/mask pairs, and slides with label pyramids.

A source is described by a small dict (from a YAML config or the CLI; see
``source_from_dict``; slides live in ``slide_sources``) and yields
:class:`SourceImage` items: an RGB image and its class mask at the source's
µm/px, with a group key that keeps everything cut from one image (or slide) in
one split. Mask encodings:

- ``grey``: luminance above ``threshold`` is tumour (white-is-tumour masks);
- ``any_channel``: any RGB channel above ``threshold`` is tumour;
- ``rgb``: exact colours name classes, e.g. ``{"#000000": 0, "#00ff00": 0, "#ff0000": 1}``;
  each pixel takes the nearest listed colour (JPEG noise), and a pixel farther than
  ``tolerance`` from every colour is an error.

Images are read with Pillow (PNG, JPEG, TIFF); slides with the project's reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_histoseg.io.errors import FileError

#: Mask value for pixels that count for nothing in training and evaluation.
IGNORE_LABEL = 255
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
ENCODINGS = ("grey", "any_channel", "rgb")


class SourceError(FileError):
    """A training source that cannot be read; the message names the file or folder."""


@dataclass(frozen=True)
class MaskEncoding:
    """How a mask file stores classes (see the module docstring)."""

    encoding: str = "grey"
    threshold: int = 127
    classes: dict = field(default_factory=dict)
    tolerance: float = 60.0

    def __post_init__(self):
        if self.encoding not in ENCODINGS:
            raise ValueError(f"mask encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if self.encoding == "rgb" and not self.classes:
            raise ValueError("the 'rgb' mask encoding needs 'classes': {'#rrggbb': class id, ...}")

    def decode(self, mask: np.ndarray, path: Path) -> np.ndarray:
        """(h, w) or (h, w, 3) uint8 mask file pixels -> (h, w) uint8 class ids."""
        rgb = mask[..., :3] if mask.ndim == 3 else np.repeat(mask[..., None], 3, axis=2)
        if self.encoding == "grey":
            grey = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
            return (grey > self.threshold).astype(np.uint8)
        if self.encoding == "any_channel":
            return (rgb.max(axis=2) > self.threshold).astype(np.uint8)
        return self._nearest_colour(rgb, path)

    def _nearest_colour(self, rgb: np.ndarray, path: Path) -> np.ndarray:
        colours = np.array([_hex_rgb(c) for c in self.classes], np.float32)
        ids = np.array(list(self.classes.values()), np.uint8)
        distance = np.linalg.norm(rgb[..., None, :].astype(np.float32) - colours, axis=-1)
        nearest = distance.argmin(axis=-1)
        if distance.min(axis=-1).max() > self.tolerance:
            raise SourceError(path, f"mask has colours farther than {self.tolerance:g} from every "
                                    f"listed class colour {list(self.classes)}; list them all")
        return ids[nearest]


@dataclass
class SourceImage:
    """One image with its class mask at ``mpp`` µm/px; ``group`` keeps it in one split."""

    source: str
    name: str
    group: str
    mpp: float
    image: np.ndarray
    mask: np.ndarray
    weight: float = 1.0
    stain: object | None = None     # StainStats fitted on the whole slide, if the source has one


@dataclass(frozen=True)
class PairFolder:
    """A folder with ``images/`` and ``masks/`` holding files with the same stem."""

    name: str
    path: Path
    mpp: float
    mask: MaskEncoding = MaskEncoding()
    weight: float = 1.0
    split: str | None = None

    def pairs(self) -> list[tuple[Path, Path]]:
        images = _image_files(self.path / "images")
        masks = {p.stem: p for p in _image_files(self.path / "masks")}
        missing = [p.name for p in images if p.stem not in masks]
        if missing:
            raise SourceError(self.path, f"{len(missing)} image(s) without a mask in masks/, "
                                         f"e.g. {missing[:3]}")
        return [(image, masks[image.stem]) for image in images]

    def groups(self) -> list[str]:
        """The split groups, one per image, without reading pixels."""
        return [self._group(image) for image, _ in self.pairs()]

    def _group(self, image_path: Path) -> str:
        return f"{self.name}/{image_path.stem}"

    def __iter__(self) -> Iterator[SourceImage]:
        for image_path, mask_path in self.pairs():
            image = read_rgb(image_path)
            mask = self.mask.decode(read_pixels(mask_path), mask_path)
            if mask.shape != image.shape[:2]:
                raise SourceError(mask_path, f"mask is {mask.shape} but its image is {image.shape[:2]}")
            yield SourceImage(self.name, image_path.stem, self._group(image_path),
                              self.mpp, image, mask, self.weight)


def read_pixels(path: Path) -> np.ndarray:
    """The pixels of an image file as a uint8 array; SourceError naming the file if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in ("L", "RGB", "RGBA"):
                image = image.convert("RGB")
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise SourceError(path, f"not a readable image ({error})") from error


def read_rgb(path: Path) -> np.ndarray:
    """An image file as (h, w, 3) uint8 RGB."""
    pixels = read_pixels(path)
    if pixels.ndim == 2:
        return np.repeat(pixels[..., None], 3, axis=2)
    return np.ascontiguousarray(pixels[..., :3])


def source_from_dict(spec: dict, base: Path | None = None):
    """A source from its config dict. Kinds and keys:

    - ``pairs``: name, path, mpp, mask ({encoding, threshold, classes}), weight;
    - ``slide``: name, path, labels, level, region, weight;
    - ``synthetic``: name, path (folder to generate into), seed, size [h, w], level, weight;
    - ``corrections``: name, path (a slide's workspace folder), weight;
    - ``dataset``: name, path (a built dataset, whose patches keep their splits), weight.

    Every kind takes ``split`` ("train", "val" or "test") to put all its images in one split
    instead of the 8:1:1 draw.
    """
    spec = dict(spec)
    kind = spec.pop("kind", "pairs")
    builders = {"pairs": _pair_folder, "slide": _slide, "synthetic": _synthetic,
                "corrections": _corrections, "dataset": _dataset}
    if kind not in builders:
        raise ValueError(f"unknown source kind {kind!r}; valid kinds: {sorted(builders)}")
    if "path" not in spec:
        raise ValueError(f"{kind} source {spec} lacks 'path'")
    path = _resolve(base, spec.pop("path"))
    split = spec.get("split")
    if split not in (None, "train", "val", "test"):
        raise ValueError(f"{kind} source {path}: split must be train, val or test, got {split!r}")
    source = builders[kind](path, spec, base)
    if spec:
        raise ValueError(f"{kind} source {source.name!r}: unknown key(s) {sorted(spec)}")
    return source


def _pair_folder(path: Path, spec: dict, base: Path | None) -> PairFolder:
    if not path.is_dir():
        raise SourceError(path, "source folder not found")
    if "mpp" not in spec:
        raise ValueError(f"pairs source {path} lacks 'mpp' (its µm/px)")
    mpp = float(spec.pop("mpp"))
    if not 0.05 <= mpp <= 50:
        raise SourceError(path, f"µm/px {mpp} is outside 0.05-50")
    encoding = MaskEncoding(**spec.pop("mask", {}))
    return PairFolder(spec.pop("name", path.name), path, mpp, encoding, float(spec.pop("weight", 1.0)),
                      spec.pop("split", None))


def _slide(path: Path, spec: dict, base: Path | None):
    from napari_histoseg.training.slide_sources import SlideSource

    if "labels" not in spec:
        raise ValueError(f"slide source {path} lacks 'labels' (its label pyramid TIFF)")
    return SlideSource(spec.pop("name", path.stem), path, _resolve(base, spec.pop("labels")),
                       int(spec.pop("level", 0)), int(spec.pop("region", 2048)),
                       float(spec.pop("weight", 1.0)), split=spec.pop("split", None))


def _synthetic(path: Path, spec: dict, base: Path | None):
    from napari_histoseg.training.slide_sources import synthetic_source

    seed = int(spec.pop("seed", 0))
    return synthetic_source(spec.pop("name", f"synthetic-{seed}"), path, seed,
                            tuple(spec.pop("size", (4096, 4096))), int(spec.pop("level", 0)),
                            float(spec.pop("weight", 1.0)), spec.pop("split", None))


def _corrections(path: Path, spec: dict, base: Path | None):
    from napari_histoseg.training.slide_sources import CorrectionSource

    if not (path / "corrections").is_dir():
        raise SourceError(path, "no corrections/ folder: not a slide workspace with corrections")
    return CorrectionSource(spec.pop("name", "corrections"), path, float(spec.pop("weight", 1.0)),
                            spec.pop("split", None))


def _dataset(path: Path, spec: dict, base: Path | None):
    from napari_histoseg.training.dataset_source import DatasetSource

    return DatasetSource(spec.pop("name", path.name), path, float(spec.pop("weight", 1.0)))


def _resolve(base: Path | None, value) -> Path:
    path = Path(str(value)).expanduser()
    return base / path if base is not None and not path.is_absolute() else path


def _image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise SourceError(folder, "folder not found; a pairs source holds images/ and masks/")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    text = str(colour).lstrip("#")
    if len(text) != 6:
        raise ValueError(f"class colour must be '#rrggbb', got {colour!r}")
    return tuple(int(text[i:i + 2], 16) for i in (0, 2, 4))
