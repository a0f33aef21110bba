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

from napari_histoseg.io import tiff_metadata
from napari_histoseg.io.errors import SlideError
from napari_histoseg.io.mpp import MppReading
from napari_histoseg.io.tile_reader import (PositionalFile, SharedHandleFile, TiledLevelReader,
                                             private_file)

#: A single stored block larger than this cannot be read lazily.
MAX_CHUNK_BYTES = 512 * 2**20


@dataclass(frozen=True)
class OpenedLevels:
    """What a backend found in a file, before single-level pyramids are filled in."""

    levels: tuple[da.Array, ...]
    region_readers: tuple[Callable[[slice, slice], np.ndarray] | None, ...]
    mpp: MppReading
    vendor: str
    properties: dict = field(default_factory=dict)
    objective_power: float | None = None


def open_tiff_levels(path: Path) -> OpenedLevels:
    """Open ``path`` with tifffile; raise SlideError if it is not a usable slide."""
    try:
        tif = tifffile.TiffFile(path)
    except (tifffile.TiffFileError, OSError, ValueError, IndexError, KeyError) as err:
        raise SlideError(path, f"not a TIFF-based slide ({err})") from err
    try:
        series = _image_series(tif, path)
        _check_not_truncated(series, path)
        arrays = [_level_array(series, index, path) for index in range(len(series.levels))]
        source = private_file(tif)
        return OpenedLevels(
            levels=tuple(_as_rgb_dask(array, series.axes, path) for array in arrays),
            region_readers=tuple(_region_reader(level, array, series.axes, source)
                                 for level, array in zip(series.levels, arrays)),
            mpp=tiff_metadata.read_mpp(tif, series),
            vendor=tiff_metadata.vendor(tif),
            properties=tiff_metadata.properties(tif),
            objective_power=tiff_metadata.objective_power(tif),
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


def _check_not_truncated(series: tifffile.TiffPageSeries, path: Path) -> None:
    """Fail now, not mid-run, when tile data points past the end of the file."""
    file_size = path.stat().st_size
    for level in series.levels:
        page = level.keyframe
        ends = [offset + count for offset, count in zip(page.dataoffsets, page.databytecounts)
                if offset]
        if ends and max(ends) > file_size:
            raise SlideError(path, f"the file is truncated: level {level.shape} needs "
                                   f"{max(ends):,} bytes but the file has {file_size:,}; "
                                   "copy or export the slide again")
        chunk_bytes = int(np.prod(page.chunks)) * page.dtype.itemsize
        if chunk_bytes > MAX_CHUNK_BYTES:
            raise SlideError(path, f"the image is stored as one block of "
                                   f"{chunk_bytes / 2**30:.1f} GiB with no pyramid, so it "
                                   "cannot be read tile by tile; convert it to a tiled "
                                   "pyramidal TIFF")


def _level_array(series: tifffile.TiffPageSeries, index: int, path: Path) -> zarr.Array:
    store = series.aszarr(level=index)
    array = zarr.open(store, mode="r")
    if not isinstance(array, zarr.Array):
        raise SlideError(path, f"level {index} is not a single image array")
    return array


def _as_rgb_dask(array: zarr.Array, axes: str, path: Path) -> da.Array:
    """A lazy (h, w, 3) view of one level, whatever the stored layout."""
    lazy = da.from_zarr(array)
    if axes in ("CYX", "SYX"):
        lazy = lazy.transpose(1, 2, 0)
    elif axes == "YX":
        lazy = da.stack([lazy] * 3, axis=-1)
    if lazy.shape[-1] < 3:
        raise SlideError(path, f"has {lazy.shape[-1]} colour channels; expected RGB")
    return lazy[..., :3]


def _region_reader(level: tifffile.TiffPageSeries, array: zarr.Array, axes: str,
                   source: PositionalFile | SharedHandleFile
                   ) -> Callable[[slice, slice], np.ndarray] | None:
    """A fast (y, x) reader for interleaved RGB levels: direct tiles, else zarr.

    Both are safe beside dask's display reads (see ``io.tile_reader``).
    """
    if axes != "YXS":
        return None
    if len(level.pages) == 1:
        direct = TiledLevelReader.for_page(level.keyframe, source)
        if direct is not None:
            return direct
    return lambda rows, cols: array[rows, cols]
