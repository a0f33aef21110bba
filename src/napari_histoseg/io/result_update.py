"""Keeping a ResultStore exact: tile predictions are stored, blocks are recomputed, never summed.

Nothing is incremented in place. Each step overwrites whole chunks with values
that are a fixed function of what is already on disk, so redoing any step
writes the same bytes, and a crash at any moment leaves a store that a resume
completes to exactly the bytes of an uninterrupted run:

1. :meth:`ResultUpdater.save_tiles`: each finished tile's prediction (softmax
   x 255, uint8, its whole window) is written as one chunk of ``histoseg/tiles``.
2. :meth:`ResultUpdater.publish`: every level-0 block (tile core) that those
   tiles reach is recomputed from the stored predictions of the done tiles
   around it (:func:`napari_histoseg.io.blend.blend_block`) and written as one
   whole chunk; then each overview chunk above a changed block is rebuilt from
   its 2 x 2 children; last, ``histoseg/done`` (one chunk) records the tiles.

A tile whose ``done`` was not yet written is recomputed on resume; its step 1
and 2 then rewrite the same chunks with the same bytes. Blocks and overview
chunks are always recomputed from all done tiles, so their final value does
not depend on the order or grouping in which tiles finished.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from napari_histoseg.geometry import blend_weights
from napari_histoseg.io.blend import blend_block, block_box, labels_of, pool_2x2
from napari_histoseg.io.results import ResultStore

#: Memory for decoded tile predictions (a batch and its neighbours' rows), bytes.
CACHE_BYTES = 128 * 2**20


class ResultUpdater:
    """Writes tile predictions into a store and republishes the blocks they reach.

    Not thread-safe: one writer thread owns it (the workspace lock keeps other
    processes out).
    """

    def __init__(self, store: ResultStore, cache_bytes: int = CACHE_BYTES):
        self.store = store
        self.grid = store.spec.grid
        self.done = store.done_tiles()
        self._weights = blend_weights(self.grid.tile_size, self.grid.halo)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._n_classes = len(store.spec.class_names)
        self._cache_tiles = max(cache_bytes // (self._n_classes * self.grid.tile_size**2), 16)

    def save_tiles(self, indices: np.ndarray, predictions: np.ndarray) -> None:
        """Store (B, C, tile_size, tile_size) uint8 ``predictions`` of flat tile ``indices``."""
        cols = self.grid.grid_shape[1]
        for index, prediction in zip(np.asarray(indices), predictions):
            r, c = divmod(int(index), cols)
            self.store.tiles[r, c] = prediction
            self._remember(int(index), np.ascontiguousarray(prediction))

    def publish(self, indices: np.ndarray) -> None:
        """Count saved tiles ``indices`` as done: recompute what they reach, then record them."""
        indices = np.asarray(indices, dtype=np.int64)
        if not len(indices):
            return
        done = self.done.copy()
        done.ravel()[indices] = True
        blocks = self._blocks_reached(indices)
        fresh = {}
        for row, col in blocks:
            fresh[(row, col)] = self._write_block(row, col, done)
        for level in range(1, self.store.n_levels):
            fresh = self._write_overviews(level, fresh)
        self.store.done[...] = done.astype(np.uint8)
        self.done = done

    def _blocks_reached(self, indices: np.ndarray) -> list[tuple[int, int]]:
        """Blocks (row, col) in the 3 x 3 neighbourhood of each tile, in row-major order."""
        rows, cols = self.grid.grid_shape
        reached = set()
        for index in indices:
            r, c = divmod(int(index), cols)
            reached.update((rr, cc) for rr in range(max(r - 1, 0), min(r + 2, rows))
                           for cc in range(max(c - 1, 0), min(c + 2, cols)))
        return sorted(reached)

    def _write_block(self, row: int, col: int, done: np.ndarray) -> np.ndarray:
        probabilities = blend_block(self.grid, row, col, done, self._window, self._weights,
                                    self._n_classes)
        y0, x0, y1, x1 = block_box(self.grid, row, col)
        stored = probabilities.astype(np.float16)
        self.store.probability_levels()[0][:, y0:y1, x0:x1] = stored
        self.store.mask_levels()[0][y0:y1, x0:x1] = labels_of(probabilities)
        return stored

    def _write_overviews(self, level: int, children: dict) -> dict:
        """Rebuild level ``level``'s chunks above the changed ``children`` chunks of level - 1."""
        s = self.grid.stride
        below = self.store.probability_levels()[level - 1]
        parents = sorted({(r // 2, c // 2) for r, c in children})
        written = {}
        for pr, pc in parents:
            y0, x0 = 2 * pr * s, 2 * pc * s
            y1, x1 = min(y0 + 2 * s, below.shape[1]), min(x0 + 2 * s, below.shape[2])
            source = np.empty((below.shape[0], y1 - y0, x1 - x0), dtype=np.float16)
            for r in range(2 * pr, 2 * pr + 2):
                for c in range(2 * pc, 2 * pc + 2):
                    ya, xa = r * s - y0, c * s - x0
                    if r * s >= below.shape[1] or c * s >= below.shape[2]:
                        continue
                    part = children.get((r, c))
                    if part is None:
                        part = below[:, r * s:min((r + 1) * s, below.shape[1]),
                                     c * s:min((c + 1) * s, below.shape[2])]
                    source[:, ya:ya + part.shape[1], xa:xa + part.shape[2]] = part
            pooled = pool_2x2(source.astype(np.float32))
            stored = pooled.astype(np.float16)
            py, px = pr * s, pc * s
            self.store.probability_levels()[level][:, py:py + stored.shape[1],
                                                   px:px + stored.shape[2]] = stored
            self.store.mask_levels()[level][py:py + stored.shape[1],
                                            px:px + stored.shape[2]] = labels_of(pooled)
            written[(pr, pc)] = stored
        return written

    def _window(self, index: int) -> np.ndarray:
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        r, c = divmod(index, self.grid.grid_shape[1])
        window = self.store.tiles[r, c]
        self._remember(index, window)
        return window

    def _remember(self, index: int, window: np.ndarray) -> None:
        self._cache[index] = window
        self._cache.move_to_end(index)
        while len(self._cache) > self._cache_tiles:
            self._cache.popitem(last=False)
