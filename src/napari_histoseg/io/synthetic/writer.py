"""Streaming a pyramid of tiles into a TIFF: one level after another, one tile at a time.

Level 0 goes in the main IFD and the reduced levels in its SubIFDs, with resolution
tags in centimetres, so tifffile reads one series with levels and ``open_slide``
finds the mpp. Tiles are rendered a few at a time in a thread pool (numpy and the
JPEG encoder release the GIL) and handed to tifffile in order; memory holds only
the tiles in flight.

With ``downsample=True`` only level 0 is rendered, as a scanner does: each tile of a
level is also reduced (2 x 2 mean) into a quadrant of a tile of the next level, kept
in a scratch file beside the output until that level is written. The scratch files
hold one level at a time (plus the next), on disk, never in memory.
"""

from __future__ import annotations

import os
import tempfile
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
                  workers: int | None = None, downsample: bool = False) -> Path:
    """Write ``render(level, location, size)`` tiles of every level to ``path``.

    ``render`` returns (tile_size, tile_size, 3) uint8 when ``rgb`` else (tile_size,
    tile_size) uint8. ``compression`` is tifffile's (name, level) pair, e.g. ("jpeg", 85).
    With ``downsample``, ``render`` is called for level 0 only and every coarser level
    is the 2 x 2 mean of the level above (pixel i of level k + 1 covers pixels 2i and
    2i + 1 of level k, so it is centred where rendering it directly would put it).
    """
    workers = workers or min(4, os.cpu_count() or 1)
    h0 = level_shapes[0][0]
    options = dict(tile=(tile_size, tile_size), dtype=np.uint8, compression=compression[0],
                   compressionargs={"level": compression[1]},
                   photometric="rgb" if rgb else "minisblack", resolutionunit="CENTIMETER",
                   maxworkers=workers, buffersize=ENCODE_BUFFER_BYTES,
                   software="napari-histoseg synthetic")
    channels = 3 if rgb else 1
    with ThreadPoolExecutor(workers) as pool, tifffile.TiffWriter(path, bigtiff=True) as tif, \
            tempfile.TemporaryDirectory(prefix=f".{path.name}-", dir=path.parent) as scratch:
        source: _Staging | None = None
        for level, shape in enumerate(level_shapes):
            target = None
            if downsample and level + 1 < len(level_shapes):
                target = _Staging(Path(scratch) / f"level{level + 1}.raw",
                                  level_shapes[level + 1], tile_size, channels)
            tile_function = render if source is None else source.tile
            tif.write(_tiles(pool, _reducing(tile_function, target), level, shape, tile_size,
                             2 * workers),
                      shape=(*shape, 3) if rgb else shape,
                      subifds=len(level_shapes) - 1 if level == 0 else None,
                      subfiletype=1 if level else 0,
                      resolution=(1e4 / (mpp * h0 / shape[0]),) * 2, **options)
            if source is not None:
                source.close()
            source = target
    return path


def mean_2x2(tile: np.ndarray) -> np.ndarray:
    """(h / 2, w / 2[, c]) uint8 rounded mean of each 2 x 2 block of an (h, w[, c]) uint8 tile."""
    total = tile[0::2, 0::2].astype(np.uint16)
    total += tile[1::2, 0::2]
    total += tile[0::2, 1::2]
    total += tile[1::2, 1::2]
    total += 2
    total >>= 2
    return total.astype(np.uint8)


class _Staging:
    """A level's tiles assembled from quadrants (2 x 2 means of the level above) in a scratch file.

    Quadrant q = 2 * (row % 2) + (col % 2) of tile (i, j) is stored contiguously at
    slot 4 * (i * columns + j) + q, so a tile is one read; never-written quadrants
    (beyond the image) read as zeros.
    """

    def __init__(self, path: Path, shape: tuple[int, int], tile_size: int, channels: int):
        self.tile_size, self.channels = tile_size, channels
        self.columns = -(-shape[1] // tile_size)
        self.quadrant_bytes = (tile_size // 2) ** 2 * channels
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)

    def put(self, location_above: tuple[int, int], reduced: np.ndarray) -> None:
        """Store the reduced tile of the level above whose tile is at ``location_above``."""
        row, col = location_above[0] // self.tile_size, location_above[1] // self.tile_size
        slot = 4 * ((row // 2) * self.columns + col // 2) + 2 * (row % 2) + col % 2
        os.pwrite(self.fd, np.ascontiguousarray(reduced).tobytes(), slot * self.quadrant_bytes)

    def tile(self, level: int, location: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
        """(tile_size, tile_size[, channels]) uint8 tile at ``location`` (``level`` is not used)."""
        t, half = self.tile_size, self.tile_size // 2
        slot = 4 * ((location[0] // t) * self.columns + location[1] // t)
        data = bytearray(4 * self.quadrant_bytes)
        os.preadv(self.fd, [data], slot * self.quadrant_bytes)   # a short read leaves zeros
        quadrants = np.frombuffer(data, np.uint8).reshape(2, 2, half, half, self.channels)
        tile = quadrants.transpose(0, 2, 1, 3, 4).reshape(t, t, self.channels)
        return tile if self.channels > 1 else tile[..., 0]

    def close(self) -> None:
        os.close(self.fd)


def _reducing(render: TileFunction, target: _Staging | None) -> TileFunction:
    """``render``, also storing each tile's 2 x 2 mean into ``target`` when there is one."""
    if target is None:
        return render

    def render_and_reduce(level: int, location: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
        tile = render(level, location, size)
        target.put(location, mean_2x2(tile))
        return tile

    return render_and_reduce


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
