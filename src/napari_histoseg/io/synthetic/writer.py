"""Streaming a pyramid of tiles into a TIFF: one level after another, one tile at a time.

Level 0 goes in the main IFD and the reduced levels in its SubIFDs, with resolution
tags in centimetres, so tifffile reads one series with levels and ``open_slide``
finds the mpp. Tiles are rendered a few at a time in a thread pool (numpy and the
JPEG encoder release the GIL) and handed to tifffile in order; memory holds only
the tiles in flight.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import tifffile

#: Bytes of raw tiles tifffile may gather ahead of its encoders (its default is far more).
ENCODE_BUFFER_BYTES = 16 * 2**20

TileFunction = Callable[[int, tuple[int, int], tuple[int, int]], np.ndarray]


def write_pyramid(path: Path, level_shapes: tuple[tuple[int, int], ...], render: TileFunction,
                  mpp: float, tile_size: int, rgb: bool, compression: tuple,
                  workers: int | None = None) -> Path:
    """Write ``render(level, location, size)`` tiles of every level to ``path``.

    ``render`` returns (tile_size, tile_size, 3) uint8 when ``rgb`` else (tile_size,
    tile_size) uint8. ``compression`` is tifffile's (name, level) pair, e.g. ("jpeg", 85).
    """
    workers = workers or min(4, os.cpu_count() or 1)
    h0 = level_shapes[0][0]
    options = dict(tile=(tile_size, tile_size), dtype=np.uint8, compression=compression[0],
                   compressionargs={"level": compression[1]},
                   photometric="rgb" if rgb else "minisblack", resolutionunit="CENTIMETER",
                   maxworkers=workers, buffersize=ENCODE_BUFFER_BYTES,
                   software="napari-histoseg synthetic")
    with ThreadPoolExecutor(workers) as pool, tifffile.TiffWriter(path, bigtiff=True) as tif:
        for level, shape in enumerate(level_shapes):
            level_mpp = mpp * h0 / shape[0]
            tif.write(_tiles(pool, render, level, shape, tile_size, 2 * workers),
                      shape=(*shape, 3) if rgb else shape,
                      subifds=len(level_shapes) - 1 if level == 0 else None,
                      subfiletype=1 if level else 0,
                      resolution=(1e4 / level_mpp, 1e4 / level_mpp), **options)
    return path


def _tiles(pool: ThreadPoolExecutor, render: TileFunction, level: int, shape: tuple[int, int],
           tile_size: int, ahead: int) -> Iterator[np.ndarray]:
    """The level's tiles in row-major order, at most ``ahead`` rendered ahead of the writer."""
    locations = ((y, x) for y in range(0, shape[0], tile_size) for x in range(0, shape[1], tile_size))
    pending: deque = deque()
    for location in locations:
        pending.append(pool.submit(render, level, location, (tile_size, tile_size)))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
