"""Lazy whole-slide images: a pyramid of dask arrays with µm per pixel.

``open_slide(path)`` reads Aperio SVS, Hamamatsu NDPI, OME-TIFF and generic
tiled TIFF through tifffile's zarr store, so no level is ever read whole. Files
that tifffile cannot read (MRXS and others) go through openslide when the
``openslide`` extra is installed.

Axes are always (y, x[, c]) in pixels of the level named; ``location`` is the
top-left (y, x) corner and ``size`` is (h, w).

>>> slide = open_slide("CMU-1-Small-Region.svs")            # doctest: +SKIP
>>> slide.level_shapes, slide.mpp                             # doctest: +SKIP
(((2967, 2220),), (0.499, 0.499))
>>> slide.read_region(0, (100, 200), (512, 512)).shape        # doctest: +SKIP
(512, 512, 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import dask.array as da
import numpy as np

from napari_histoseg.io.errors import CorruptTileError, SlideError
from napari_histoseg.io.mpp import MppReading, mpp_from_objective
from napari_histoseg.io.tiff_backend import open_tiff_levels
from napari_histoseg.io.tile_faults import TileFaults

#: Fill value for pixels outside the slide (white glass, as scanners fill).
BACKGROUND = 255
#: Reads of the slide's open file run here, never on a dask.distributed client that may be
#: active in this process (a batch worker's, whose scheduler cannot receive open files).
LOCAL_SCHEDULER = "threads"
#: Smallest side a synthesised pyramid level may have.
MIN_LEVEL_SIDE = 512


@dataclass(frozen=True)
class Slide:
    """An opened slide.

    Attributes:
        path: the file.
        levels: one lazy ``(h, w, 3)`` uint8 dask array per pyramid level,
            largest first.
        mpp: level-0 µm per pixel as (y, x), or None when the file states none
            or an implausible one (validated by ``io.mpp``).
        vendor: the format, e.g. ``"aperio"``, ``"ome"``, ``"generic-tiff"``.
        properties: raw metadata worth showing (objective power, scanner...).
        region_readers: per level, a function reading ``[y0:y1, x0:x1]`` fast,
            without dask's graph overhead; levels without one use dask. Safe to
            call from several threads beside dask reads.
        mpp_reading: where ``mpp`` came from, or why the file's value was rejected.
        objective_power: the scan's objective magnification (e.g. 20.0), if stated.
        faults: damaged tiles met by display reads (shown blank, warned once).
    """

    path: Path
    levels: tuple[da.Array, ...]
    mpp: tuple[float, float] | None
    vendor: str
    properties: dict = field(default_factory=dict)
    region_readers: tuple[Callable[[slice, slice], np.ndarray] | None, ...] = ()
    mpp_reading: MppReading = MppReading(None)
    objective_power: float | None = None
    faults: TileFaults | None = field(default=None, repr=False, compare=False)

    @property
    def level_shapes(self) -> tuple[tuple[int, int], ...]:
        """(h, w) of each level."""
        return tuple((int(a.shape[0]), int(a.shape[1])) for a in self.levels)

    @property
    def downsamples(self) -> tuple[float, ...]:
        """Level-0 pixels per level pixel, one per level (1.0 first)."""
        h0, w0 = self.level_shapes[0]
        return tuple(((h0 / h) + (w0 / w)) / 2 for h, w in self.level_shapes)

    @property
    def file_size(self) -> int:
        """Bytes on disk (the main file only)."""
        return self.path.stat().st_size

    def level_mpp(self, level: int) -> tuple[float, float] | None:
        """µm per pixel (y, x) of ``level``, or None when the slide has no mpp."""
        if self.mpp is None:
            return None
        factor = self.downsamples[level]
        return (self.mpp[0] * factor, self.mpp[1] * factor)

    def best_level_for_downsample(self, downsample: float) -> int:
        """The coarsest level whose downsample does not exceed ``downsample``."""
        candidates = [i for i, d in enumerate(self.downsamples) if d <= downsample * 1.001]
        return max(candidates) if candidates else 0

    def read_region(
        self, level: int, location: tuple[int, int], size: tuple[int, int]
    ) -> np.ndarray:
        """Read ``size`` (h, w) pixels at ``location`` (y, x) of ``level``.

        The region may reach past the slide's edges: those pixels are white.
        Returns a ``(h, w, 3)`` uint8 array.

        Raises:
            CorruptTileError: a tile under the region cannot be read or decoded.
        """
        if not 0 <= level < len(self.levels):
            raise ValueError(f"{self.path.name}: level {level} does not exist "
                             f"(the slide has levels 0-{len(self.levels) - 1})")
        (y, x), (h, w) = location, size
        height, width = self.level_shapes[level]
        out = np.full((h, w, 3), BACKGROUND, dtype=np.uint8)
        y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + h, height), min(x + w, width)
        if y1 <= y0 or x1 <= x0:
            return out
        rows, cols = slice(y0, y1), slice(x0, x1)
        reader = self.region_readers[level] if level < len(self.region_readers) else None
        try:
            pixels = reader(rows, cols) if reader else self.levels[level][rows, cols].compute(
                scheduler=LOCAL_SCHEDULER)
            out[y0 - y:y1 - y, x0 - x:x1 - x] = pixels[..., :3]
        except SlideError:
            raise
        except Exception as err:  # noqa: BLE001 - only the project's own error leaves a read
            raise CorruptTileError(self.path, f"level {level} at {location} size {size} cannot "
                                              f"be read ({type(err).__name__}: "
                                              f"{str(err)[:120]})") from err
        return out

    def thumbnail(self, max_size: int = 1024) -> np.ndarray:
        """The whole slide, at most ``max_size`` pixels on its longer side.

        Reads the smallest level at least that large and resamples it.
        """
        from skimage.transform import resize

        level = _level_for_max_size(self.level_shapes, max_size)
        try:
            image = np.asarray(self.levels[level].compute(scheduler=LOCAL_SCHEDULER))[..., :3]
        except Exception as err:  # noqa: BLE001 - only the project's own error leaves a read
            raise SlideError(self.path, f"the thumbnail (level {level}) cannot be read "
                                        f"({type(err).__name__}: {str(err)[:120]})") from err
        scale = max_size / max(image.shape[:2])
        if scale >= 1:
            return image
        target = (max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale)))
        smooth = resize(image.astype(np.float32), target, anti_aliasing=True, preserve_range=True)
        return smooth.round().astype(np.uint8)  # float32 halves the working memory of float64


def open_slide(path: str | Path) -> Slide:
    """Open a whole-slide image lazily.

    Raises:
        SlideError: the file is missing, is not a slide, is truncated, or
            cannot be read without loading a whole level into memory.
    """
    path = Path(path)
    if not path.is_file():
        raise SlideError(path, "no such file")
    try:
        return _open(path)
    except SlideError:
        raise
    except Exception as err:  # noqa: BLE001 - a damaged file must give the project's error
        raise SlideError(path, f"cannot be opened ({type(err).__name__}: "
                               f"{str(err)[:160]})") from err


def _open(path: Path) -> Slide:
    try:
        opened = open_tiff_levels(path)
    except SlideError as tiff_error:
        if is_tiff(path):  # a damaged TIFF: openslide's libtiff would trust what we refused
            raise
        from napari_histoseg.io.openslide_backend import open_with_openslide

        opened = open_with_openslide(path, fallback_error=tiff_error)
    levels = opened.levels
    readers = opened.region_readers
    if len(levels) == 1:
        levels = pyramid_from_single_level(levels[0])
        readers = readers[:1]
    return Slide(path=path, levels=levels, mpp=opened.mpp.mpp, vendor=opened.vendor,
                 properties=opened.properties, region_readers=readers,
                 mpp_reading=opened.mpp, objective_power=opened.objective_power,
                 faults=opened.faults)


def is_tiff(path: Path) -> bool:
    """Whether the file starts with a TIFF or BigTIFF header (either byte order)."""
    with open(path, "rb") as file:
        return file.read(4) in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")


def pyramid_from_single_level(level0: da.Array) -> tuple[da.Array, ...]:
    """Halve ``level0`` lazily until it fits ``MIN_LEVEL_SIDE``.

    Each level is a 2x2 mean of the one above, so a pyramid exists for display
    even when the file holds one level only. Nothing is read until a chunk of
    a level is asked for.
    """
    levels = [level0]
    while max(levels[-1].shape[:2]) > MIN_LEVEL_SIDE and min(levels[-1].shape[:2]) >= 2:
        previous = levels[-1]
        even = previous[: previous.shape[0] // 2 * 2, : previous.shape[1] // 2 * 2]
        halved = da.coarsen(np.mean, even, {0: 2, 1: 2}, trim_excess=True)
        levels.append(halved.astype(np.uint8))
    return tuple(levels)


def _level_for_max_size(shapes: tuple[tuple[int, int], ...], max_size: int) -> int:
    """Index of the smallest level whose longer side is still >= ``max_size``."""
    big_enough = [i for i, shape in enumerate(shapes) if max(shape) >= max_size]
    return max(big_enough) if big_enough else len(shapes) - 1


def describe_slide(slide: Slide) -> list[tuple[str, str]]:
    """(label, value) rows that summarise a slide for people, e.g. in the Slide dock."""
    height, width = slide.level_shapes[0]
    levels = ", ".join(f"{w:,}×{h:,}" for h, w in slide.level_shapes)
    mpp = slide.mpp_reading.describe()
    if slide.mpp is None:
        guess = mpp_from_objective(slide.objective_power)
        mpp += (f"; the {slide.objective_power:g}x objective suggests about {guess:g} µm/px"
                if guess else "") + "; enter it in the Segment dock or pass --slide-mpp"
    rows = [
        ("File", slide.path.name),
        ("Dimensions", f"{width:,} × {height:,} px"),
        ("Levels", f"{len(slide.levels)}: {levels}"),
        ("Resolution", mpp),
        ("Vendor", slide.vendor),
        ("File size", _human_bytes(slide.file_size)),
    ]
    if slide.mpp is not None:
        rows.insert(2, ("Physical size", f"{width * slide.mpp[1] / 1000:.2f} × "
                                         f"{height * slide.mpp[0] / 1000:.2f} mm"))
    rows.extend((key, str(value)) for key, value in slide.properties.items())
    return rows


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.1f} {unit}" if unit != "B" else f"{size:,} B"
        value /= 1024
    return f"{value:,.1f} TiB"
