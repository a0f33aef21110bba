"""TIFF-family slides (SVS, NDPI, OME-TIFF, tiled TIFF) through tifffile + zarr.

Each pyramid level is a zarr array over tifffile's store, wrapped in dask.
Only the tiles that a slice touches are read and decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import dask.array as da
import numpy as np
import tifffile
import zarr
from dask.base import tokenize

from napari_histoseg.io import tiff_metadata
from napari_histoseg.io.errors import SlideError
from napari_histoseg.io.mpp import MppReading
from napari_histoseg.io.tiff_checks import check_series
from napari_histoseg.io.tile_faults import GuardedLevel, TileFaults, guarded_reader
from napari_histoseg.io.tile_reader import (PositionalFile, SharedHandleFile, TiledLevelReader,
                                             private_file)


@dataclass(frozen=True)
class OpenedLevels:
    """What a backend found in a file, before single-level pyramids are filled in."""

    levels: tuple[da.Array, ...]
    region_readers: tuple[Callable[[slice, slice], np.ndarray] | None, ...]
    mpp: MppReading
    vendor: str
    properties: dict = field(default_factory=dict)
    objective_power: float | None = None
    faults: TileFaults | None = None


def open_tiff_levels(path: Path) -> OpenedLevels:
    """Open ``path`` with tifffile; raise SlideError if it is not a usable slide."""
    try:
        tif = tifffile.TiffFile(path)
    except Exception as err:  # noqa: BLE001 - tifffile raises many types on damaged headers
        first_line = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        raise SlideError(path, f"not a TIFF-based slide ({first_line})") from err
    try:
        series = _image_series(tif, path)
        check_series(series, path)
        arrays = [_level_array(series, index, path) for index in range(len(series.levels))]
        source, faults = private_file(tif), TileFaults(path)
        return OpenedLevels(
            levels=tuple(_as_rgb_dask(GuardedLevel(array, index, faults), series.axes, path)
                         for index, array in enumerate(arrays)),
            region_readers=tuple(_region_reader(level, array, series.axes, source, index)
                                 for index, (level, array)
                                 in enumerate(zip(series.levels, arrays))),
            mpp=tiff_metadata.read_mpp(tif, series),
            vendor=tiff_metadata.vendor(tif),
            properties=tiff_metadata.properties(tif),
            objective_power=tiff_metadata.objective_power(tif),
            faults=faults,
        )
    except SlideError:
        tif.close()
        raise
    except Exception as err:  # tifffile raises many types on malformed files
        tif.close()
        raise SlideError(path, f"malformed TIFF ({type(err).__name__}: {err})") from err


def _image_series(tif: tifffile.TiffFile, path: Path) -> tifffile.TiffPageSeries:
    """The largest 8-bit image series (the slide itself, not label or macro)."""
    candidates = [s for s in tif.series if s.dtype == np.uint8 and _spatial_axes_ok(s.axes)]
    if not candidates:
        found = ", ".join(f"{s.axes} {s.dtype}" for s in tif.series) or "no images"
        raise SlideError(path, f"no 8-bit brightfield image in the file (found: {found}); "
                               "histoseg reads RGB or grayscale 8-bit slides")
    return max(candidates, key=lambda s: int(np.prod(s.shape)))


def _spatial_axes_ok(axes: str) -> bool:
    return axes in ("YXS", "YX", "CYX", "SYX")


def _level_array(series: tifffile.TiffPageSeries, index: int, path: Path) -> zarr.Array:
    store = series.aszarr(level=index)
    array = zarr.open(store, mode="r")
    if not isinstance(array, zarr.Array):
        raise SlideError(path, f"level {index} is not a single image array")
    return array


def _as_rgb_dask(level: GuardedLevel, axes: str, path: Path) -> da.Array:
    """A lazy (h, w, 3) view of one level, whatever the stored layout (RGB, RGBA,
    planar, greyscale); damaged tiles read white (``io.tile_faults``)."""
    name = f"histoseg-{tokenize(str(path), path.stat().st_mtime_ns, level.shape, id(level))}"
    lazy = da.from_array(level, chunks=level.chunks, name=name,
                         meta=np.empty((0,) * level.ndim, level.dtype))
    if axes in ("CYX", "SYX"):
        lazy = lazy.transpose(1, 2, 0)
    elif axes == "YX":
        lazy = da.stack([lazy] * 3, axis=-1)
    if lazy.shape[-1] < 3:
        raise SlideError(path, f"has {lazy.shape[-1]} colour channels; expected RGB")
    return lazy[..., :3]


def _region_reader(level: tifffile.TiffPageSeries, array: zarr.Array, axes: str,
                   source: PositionalFile | SharedHandleFile, index: int
                   ) -> Callable[[slice, slice], np.ndarray]:
    """A (y, x) reader that raises ``CorruptTileError`` on damaged tiles: direct tile reads
    for interleaved RGB levels, else zarr with the layout turned into (h, w, 3).

    Both are safe beside dask's display reads (see ``io.tile_reader``).
    """
    if axes == "YXS" and len(level.pages) == 1:
        direct = TiledLevelReader.for_page(level.keyframe, source)
        if direct is not None:
            return direct

    def read(rows: slice, cols: slice) -> np.ndarray:
        if axes in ("CYX", "SYX"):
            return np.moveaxis(np.asarray(array[:, rows, cols]), 0, -1)
        if axes == "YX":
            return np.repeat(np.asarray(array[rows, cols])[..., None], 3, axis=-1)
        return np.asarray(array[rows, cols])

    return guarded_reader(read, Path(source.path) if hasattr(source, "path") else
                          Path(level.parent.filehandle.path), index)
