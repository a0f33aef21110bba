"""Export the label mask as a pyramidal OME-TIFF with physical pixel sizes in µm.

The file holds the mask's levels as SubIFDs of one image, tiled and losslessly
compressed, so QuPath, napari and tifffile read it as a multiscale label image
that lines up with the slide. Values are the store's: class ids, and 255 where
nothing was computed. Tiles are streamed from the zarr store, so memory stays
bounded whatever the mask size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from napari_histoseg.io.results import ResultStore

EXPORT_TILE = 512


def export_mask_ome_tiff(store: ResultStore, path: str | Path, tile: int = EXPORT_TILE) -> Path:
    """Write ``store``'s mask pyramid to ``path`` (.ome.tif); returns the path.

    Level 0 has the results' µm/px (``store.scale``), each further level twice that.
    """
    import tifffile

    path = Path(path)
    levels = store.mask_levels()
    mpp_y, mpp_x = store.scale
    metadata = {"axes": "YX", "Name": "histoseg mask",
                "PhysicalSizeY": mpp_y, "PhysicalSizeYUnit": "µm",
                "PhysicalSizeX": mpp_x, "PhysicalSizeXUnit": "µm"}
    options = dict(tile=(tile, tile), compression="zlib", dtype=np.uint8,
                   photometric="minisblack")
    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tif:
        for index, level in enumerate(levels):
            factor = level_factor(levels[0].shape, level.shape)
            resolution = (1e4 / (mpp_y * factor), 1e4 / (mpp_x * factor))
            tif.write(_tiles(level, tile), shape=level.shape,
                      subifds=len(levels) - 1 if index == 0 else None,
                      subfiletype=1 if index else 0,
                      metadata=metadata if index == 0 else None,
                      resolution=resolution, resolutionunit="CENTIMETER", **options)
    return path


def level_factor(shape0: tuple[int, ...], shape: tuple[int, ...]) -> float:
    """Level-0 px per px of a level of shape ``shape``."""
    return shape0[-1] / shape[-1]


def _tiles(array, tile: int) -> Iterator[np.ndarray]:
    """``tile x tile`` blocks of a 2-D array in row-major order, edge blocks padded with 0."""
    height, width = array.shape
    for y in range(0, height, tile):
        for x in range(0, width, tile):
            block = np.asarray(array[y:y + tile, x:x + tile])
            if block.shape != (tile, tile):
                block = np.pad(block, ((0, tile - block.shape[0]), (0, tile - block.shape[1])))
            yield block
