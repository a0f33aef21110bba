"""Slides that tifffile cannot read (MRXS, some SCN/BIF) through openslide.

openslide is optional (the ``openslide`` extra). Its levels are exposed as
dask arrays whose chunks call ``read_region``, so nothing is read up front.
"""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np

from napari_histoseg.io.errors import SlideError
from napari_histoseg.io.mpp import MppReading, reading_from_metadata
from napari_histoseg.io.tiff_backend import OpenedLevels
from napari_histoseg.io.tile_faults import TileFaults, guarded_reader

CHUNK = 1024


def open_with_openslide(path: Path, fallback_error: SlideError) -> OpenedLevels:
    """Open ``path`` with openslide, or re-raise ``fallback_error`` when it cannot."""
    try:
        import openslide
    except ImportError:
        raise fallback_error from None
    try:
        handle = openslide.OpenSlide(str(path))
    except (openslide.OpenSlideError, openslide.OpenSlideUnsupportedFormatError) as err:
        raise SlideError(path, f"{fallback_error.problem}; openslide cannot read it "
                               f"either ({err})") from err
    faults = TileFaults(path)
    readers = tuple(guarded_reader(_region_reader(handle, level), path, level)
                    for level in range(handle.level_count))
    levels = tuple(_level_array(handle, level, faults) for level in range(handle.level_count))
    return OpenedLevels(levels=levels, region_readers=readers, mpp=_mpp(handle),
                        vendor=f"openslide:{handle.properties.get('openslide.vendor', '?')}",
                        properties=_properties(handle),
                        objective_power=_objective_power(handle), faults=faults)


def _region_reader(handle, level: int):
    """Reads [rows, cols] of ``level`` as (h, w, 3) uint8 (openslide's own errors pass)."""
    downsample = handle.level_downsamples[level]

    def read(rows: slice, cols: slice) -> np.ndarray:
        location = (int(cols.start * downsample), int(rows.start * downsample))
        size = (cols.stop - cols.start, rows.stop - rows.start)
        rgba = np.asarray(handle.read_region(location, level, size))
        return _rgba_to_rgb(rgba)

    return read


def _level_array(handle, level: int, faults: TileFaults) -> da.Array:
    """A lazy (h, w, 3) level for display; a damaged region reads white and is reported."""
    width, height = handle.level_dimensions[level]
    read = _region_reader(handle, level)
    chunks = (_chunk_sizes(height), _chunk_sizes(width), (3,))

    def block(block_info=None) -> np.ndarray:
        (y0, y1), (x0, x1), _ = block_info[None]["array-location"]
        try:
            return read(slice(y0, y1), slice(x0, x1))
        except Exception as err:  # noqa: BLE001 - openslide raises on damaged tiles
            faults.report(f"level {level}, rows {y0}-{y1}, cols {x0}-{x1}", err)
            return np.full((y1 - y0, x1 - x0, 3), 255, np.uint8)

    return da.map_blocks(block, chunks=chunks, dtype=np.uint8,
                         name=f"openslide-{handle._filename}-{level}")


def _chunk_sizes(length: int) -> tuple[int, ...]:
    full, rest = divmod(length, CHUNK)
    return (CHUNK,) * full + ((rest,) if rest else ())


def _rgba_to_rgb(rgba: np.ndarray) -> np.ndarray:
    """Composite onto white, as pixels with no scan data are transparent."""
    alpha = rgba[..., 3:4].astype(np.uint16)
    rgb = (rgba[..., :3].astype(np.uint16) * alpha + 255 * (255 - alpha)) // 255
    return rgb.astype(np.uint8)


def _mpp(handle) -> MppReading:
    props = handle.properties
    if "openslide.mpp-x" not in props and "openslide.mpp-y" not in props:
        return MppReading(None)
    return reading_from_metadata(props.get("openslide.mpp-y", props.get("openslide.mpp-x")),
                                 props.get("openslide.mpp-x", props.get("openslide.mpp-y")),
                                 "openslide mpp properties")


def _objective_power(handle) -> float | None:
    try:
        power = float(handle.properties["openslide.objective-power"])
    except (KeyError, ValueError):
        return None
    return power if power > 0 else None


def _properties(handle) -> dict:
    keys = ("openslide.objective-power", "openslide.vendor", "openslide.comment")
    return {k.split(".", 1)[1]: handle.properties[k] for k in keys if k in handle.properties}
