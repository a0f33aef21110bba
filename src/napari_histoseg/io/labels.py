"""Label pyramids (uint8 TIFFs, one (h, w) array per level) read lazily."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import tifffile
import zarr

from napari_histoseg.io.errors import SlideError


def open_label_pyramid(path: str | Path) -> tuple[da.Array, ...]:
    """The levels of a label pyramid TIFF as lazy (h, w) uint8 dask arrays, largest first.

    Raises SlideError naming the file when it is missing, not a TIFF, or not a
    single-channel 8-bit image.
    """
    path = Path(path)
    if not path.is_file():
        raise SlideError(path, "label pyramid not found; check the path")
    try:
        tif = tifffile.TiffFile(path)
    except (tifffile.TiffFileError, OSError, ValueError) as err:
        raise SlideError(path, f"not a TIFF label pyramid ({err})") from err
    series = tif.series[0]
    if series.dtype != np.uint8 or series.axes != "YX":
        tif.close()
        raise SlideError(path, f"labels must be (h, w) uint8; found axes {series.axes} "
                               f"and dtype {series.dtype}")
    return tuple(da.from_zarr(zarr.open(series.aszarr(level=index), mode="r"))
                 for index in range(len(series.levels)))
