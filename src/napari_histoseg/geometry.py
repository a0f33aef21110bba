"""Tile grid geometry: where tiles lie and their blending weights (numpy only).

The lowest layer of the package: ``io/``, ``tissue.py`` and ``inference/`` all
use it, and it imports nothing from them.

A grid lives at one *analysis* resolution: ``downsample`` level-0 pixels per grid
pixel. Tile ``(row, col)`` owns the core ``stride x stride`` block at
``(row * stride, col * stride)`` and is read with ``halo`` extra pixels on every
side, so the model sees ``tile_size = stride + 2 * halo`` pixels::

    |<- halo ->|<------ stride (core) ------>|<- halo ->|
    |<------------------ tile_size ------------------->|

Neighbouring windows overlap by ``2 * halo`` pixels. Their predictions are
blended with :func:`blend_weights`, a sin²/cos² ramp across each overlap, so
the weights of the tiles covering a pixel sum to one and no seam is left.
Windows reaching past the image's edges are padded (the slide reader returns
white glass there) and cropped again when written.

>>> grid = TileGrid(shape=(1000, 1500), downsample=2.0, tile_size=512, halo=64)
>>> grid.stride, grid.grid_shape
(384, (3, 4))
>>> grid.window(1, 2)
((320, 704), (512, 512))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: A box on the slide: ``((y, x), (h, w))`` in level-0 pixels.
Box = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class TileGrid:
    """Tiles covering a ``shape`` (h, w) image at ``downsample`` level-0 px per px.

    Attributes:
        shape: (h, w) of the analysis image in grid pixels.
        downsample: level-0 pixels per grid pixel (1.0 = full resolution).
        tile_size: side of the square window the model sees, in grid pixels.
        halo: overlap on each side, in grid pixels; ``0 <= halo <= tile_size / 4``
            so that a pixel lies in at most two windows along each axis.
    """

    shape: tuple[int, int]
    downsample: float
    tile_size: int
    halo: int

    def __post_init__(self):
        if self.tile_size < 8:
            raise ValueError(f"tile_size must be at least 8 px, got {self.tile_size}")
        if not 0 <= self.halo <= self.tile_size // 4:
            raise ValueError(f"halo must lie in 0..{self.tile_size // 4} (tile_size / 4) "
                             f"for tile_size {self.tile_size}, got {self.halo}")
        if min(self.shape) < 1 or self.downsample <= 0:
            raise ValueError(f"empty grid: shape {self.shape}, downsample {self.downsample}")

    @property
    def stride(self) -> int:
        """Distance between neighbouring tiles (and the side of each core), grid px."""
        return self.tile_size - 2 * self.halo

    @property
    def grid_shape(self) -> tuple[int, int]:
        """(rows, cols) of tiles needed to cover ``shape``."""
        return (math.ceil(self.shape[0] / self.stride), math.ceil(self.shape[1] / self.stride))

    @property
    def n_tiles(self) -> int:
        rows, cols = self.grid_shape
        return rows * cols

    def window(self, row: int, col: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """``(location, size)`` of tile (row, col)'s window, in grid px (may reach outside)."""
        return ((row * self.stride - self.halo, col * self.stride - self.halo),
                (self.tile_size, self.tile_size))

    def core(self, row: int, col: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """``(location, size)`` of tile (row, col)'s core, cropped to ``shape``, grid px."""
        y, x = row * self.stride, col * self.stride
        return ((y, x), (min(self.stride, self.shape[0] - y), min(self.stride, self.shape[1] - x)))

    def core_boxes_level0(self, indices: np.ndarray) -> np.ndarray:
        """Cores of flat tile ``indices`` as an (n, 4) float array of level-0
        ``y0, x0, y1, x1``."""
        rows, cols = np.divmod(np.asarray(indices), self.grid_shape[1])
        y0, x0 = rows * self.stride, cols * self.stride
        y1 = np.minimum(y0 + self.stride, self.shape[0])
        x1 = np.minimum(x0 + self.stride, self.shape[1])
        return np.stack([y0, x0, y1, x1], axis=1).astype(float) * self.downsample


def blend_weights(tile_size: int, halo: int) -> np.ndarray:
    """(tile_size, tile_size) float32 weights that blend overlapping tiles seamlessly.

    Along each axis the weight rises as sin² over the first ``2 * halo`` pixels,
    stays 1 over the middle and falls as cos² over the last ``2 * halo``. Where
    two windows overlap, one's falling ramp meets the other's rising ramp and
    they sum to one (sin² + cos² = 1); in 2-D the weight is the outer product,
    so the four tiles at a corner also sum to one. Every weight is > 0, so edge
    pixels covered by a single tile are still defined.
    """
    ramp_length = 2 * halo
    profile = np.ones(tile_size, dtype=np.float64)
    if ramp_length:
        rising = np.sin(0.5 * np.pi * (np.arange(ramp_length) + 0.5) / ramp_length) ** 2
        profile[:ramp_length] = rising
        profile[-ramp_length:] = rising[::-1]
    return np.outer(profile, profile).astype(np.float32)


def tiles_in_box(grid: TileGrid, box: Box) -> np.ndarray:
    """Flat indices of tiles whose core meets ``box`` ((y, x), (h, w)) in level-0 px."""
    (y, x), (h, w) = box
    s = grid.stride * grid.downsample
    rows, cols = grid.grid_shape
    r0, r1 = max(int(y // s), 0), min(int(math.ceil((y + h) / s)), rows)
    c0, c1 = max(int(x // s), 0), min(int(math.ceil((x + w) / s)), cols)
    if r1 <= r0 or c1 <= c0:
        return np.empty(0, dtype=np.int64)
    rr, cc = np.meshgrid(np.arange(r0, r1), np.arange(c0, c1), indexing="ij")
    return (rr * cols + cc).ravel()
