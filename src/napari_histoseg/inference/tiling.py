"""Which pending tile goes next: the viewport-first queue of the inference engine.

Grid geometry (``TileGrid``, boxes, blending weights) lives in
:mod:`napari_histoseg.geometry`; blending tile predictions into the result
store lives in :mod:`napari_histoseg.io.blend`.
"""

from __future__ import annotations

import threading
from typing import Callable, Union

import numpy as np

from napari_histoseg.geometry import Box, TileGrid, tiles_in_box

#: A box, a function returning the current box (polled between batches), or None.
ViewportSource = Union[Box, Callable[[], Union[Box, None]], None]


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
