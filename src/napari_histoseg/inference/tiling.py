"""The tile grid: where tiles lie, how overlapping predictions blend, which go first.

A grid lives at one *analysis* resolution: ``downsample`` level-0 pixels per grid
pixel. Tile ``(row, col)`` owns the core ``stride x stride`` block at
``(row * stride, col * stride)`` and is read with ``halo`` extra pixels on every
side, so the model sees ``tile_size = stride + 2 * halo`` pixels::

    |<- halo ->|<------ stride (core) ------>|<- halo ->|
    |<------------------ tile_size ------------------->|

Neighbouring windows overlap by ``2 * halo`` pixels. Their predictions are
blended with :func:`blend_weights`, a sin²/cos² ramp across each overlap, so
the weights of the tiles covering a pixel sum to one and no seam is left.
Windows reaching past the slide's edges are padded (the slide reader returns
white glass there) and cropped again when written.

>>> grid = TileGrid(shape=(1000, 1500), downsample=2.0, tile_size=512, halo=64)
>>> grid.stride, grid.grid_shape
(384, (3, 4))
>>> grid.window(1, 2)
((320, 704), (512, 512))
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable, Union

import numpy as np

#: A box on the slide: ``((y, x), (h, w))`` in level-0 pixels.
Box = tuple[tuple[float, float], tuple[float, float]]
#: A box, a function returning the current box (polled between batches), or None.
ViewportSource = Union[Box, Callable[[], Union[Box, None]], None]


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


class TileQueue:
    """Hands out pending tiles in batches, the current viewport's tiles first.

    Thread-safe: a reader thread takes batches while the viewport may change.
    Within the viewport and outside it, tiles go in row-major order, so a batch
    is usually a run of neighbours (cheap to blend and write together).

    Args:
        grid: the tile grid.
        pending: flat indices of the tiles still to compute.
        viewport: a level-0 box, a function returning the current one (called
            each time a batch is formed), or None.
    """

    def __init__(self, grid: TileGrid, pending: np.ndarray, viewport: ViewportSource = None):
        self._grid = grid
        self._pending = np.zeros(grid.n_tiles, dtype=bool)
        self._pending[np.asarray(pending, dtype=np.int64)] = True
        self._remaining = int(self._pending.sum())
        self._viewport = viewport
        self._lock = threading.Lock()

    @property
    def remaining(self) -> int:
        return self._remaining

    def take(self, count: int) -> np.ndarray:
        """Remove and return up to ``count`` flat tile indices (empty when done)."""
        with self._lock:
            chosen = self._viewport_first(count)
            self._pending[chosen] = False
            self._remaining -= len(chosen)
            return chosen

    def _viewport_first(self, count: int) -> np.ndarray:
        box = self._viewport() if callable(self._viewport) else self._viewport
        chosen = np.empty(0, dtype=np.int64)
        if box is not None:
            visible = tiles_in_box(self._grid, box)
            chosen = visible[self._pending[visible]][:count]
        if len(chosen) < count:
            mask = self._pending.copy()
            mask[chosen] = False
            rest = np.flatnonzero(mask)[: count - len(chosen)]
            chosen = np.concatenate([chosen, rest])
        return chosen.astype(np.int64)


@dataclass(frozen=True)
class BlendedRegion:
    """Weighted predictions of neighbouring tiles, summed, ready to accumulate.

    Attributes:
        location: (y, x) top-left in grid px, inside the grid.
        weighted: (n_classes, h, w) float32 sum of weight x probability.
        weight: (h, w) float32 sum of weights.
        tiles: flat indices of the tiles it holds.
    """

    location: tuple[int, int]
    weighted: np.ndarray
    weight: np.ndarray
    tiles: np.ndarray


def blend_batch(grid: TileGrid, indices: np.ndarray, probabilities: np.ndarray,
                weights: np.ndarray) -> list[BlendedRegion]:
    """Sum a batch's (B, C, tile_size, tile_size) ``probabilities`` into regions.

    Tiles in the same row with consecutive columns form one region (a batch in
    row-major order is usually one or two regions), so the store is read and
    written once per region, not once per tile. Windows are cropped to the grid.
    """
    regions = []
    for run in _row_runs(grid, np.asarray(indices)):
        regions.append(_blend_run(grid, run, probabilities[run[1]], weights))
    return regions


def _row_runs(grid: TileGrid, indices: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split ``indices`` into runs of consecutive tiles in one row: (indices, batch positions)."""
    order = np.argsort(indices, kind="stable")
    ordered = indices[order]
    cols = grid.grid_shape[1]
    breaks = np.flatnonzero((np.diff(ordered) != 1) | (np.diff(ordered // cols) != 0)) + 1
    return [(ordered[part], order[part]) for part in np.split(np.arange(len(ordered)), breaks)
            if len(part)] if len(ordered) else []


def _blend_run(grid: TileGrid, run: tuple[np.ndarray, np.ndarray], probabilities: np.ndarray,
               weights: np.ndarray) -> BlendedRegion:
    indices, _ = run
    row, first_col = divmod(int(indices[0]), grid.grid_shape[1])
    (y, x), _ = grid.window(row, first_col)
    t, s = grid.tile_size, grid.stride
    width = s * (len(indices) - 1) + t
    weighted = np.zeros((probabilities.shape[1], t, width), dtype=np.float32)
    weight = np.zeros((t, width), dtype=np.float32)
    for i, tile in enumerate(probabilities):
        weighted[:, :, i * s:i * s + t] += tile * weights
        weight[:, i * s:i * s + t] += weights
    y0, x0 = max(y, 0), max(x, 0)
    y1, x1 = min(y + t, grid.shape[0]), min(x + width, grid.shape[1])
    crop = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
    return BlendedRegion(location=(y0, x0), weighted=weighted[(slice(None), *crop)],
                         weight=weight[crop], tiles=indices)
