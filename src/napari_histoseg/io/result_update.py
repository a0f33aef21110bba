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
   its 2 x 2 children (:class:`napari_histoseg.io.pyramid.LevelChunks`); the
   mask edits recorded over those blocks are written again on top
   (:func:`napari_histoseg.io.edit_commit.reapply_over`); last,
   ``histoseg/done`` (one chunk) records the tiles.

A tile whose ``done`` was not yet written is recomputed on resume; its step 1
and 2 then rewrite the same chunks with the same bytes. Blocks and overview
chunks are always recomputed from all done tiles, so their final value does
not depend on the order or grouping in which tiles finished.
"""

from __future__ import annotations

import numpy as np

from napari_histoseg.geometry import blend_weights
from napari_histoseg.io.array_cache import ArrayCache
from napari_histoseg.io.blend import blend_block
from napari_histoseg.io.edit_commit import reapply_over
from napari_histoseg.io.pyramid import LevelChunks, chunk_runs
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
        self._n_classes = len(store.spec.class_names)
        self._windows = ArrayCache(cache_bytes)
        self._levels = LevelChunks(store)

    def save_tiles(self, indices: np.ndarray, predictions: np.ndarray) -> None:
        """Store (B, C, tile_size, tile_size) uint8 ``predictions`` of flat tile ``indices``.

        Each tile is one whole chunk; neighbours in a row go in one zarr call.
        """
        indices = np.asarray(indices, dtype=np.int64)
        cols = self.grid.grid_shape[1]
        order = np.argsort(indices, kind="stable")
        for run in _runs(indices[order], cols):
            positions = order[np.searchsorted(indices[order], run)]
            row, first = divmod(int(run[0]), cols)
            self.store.tiles[row, first:first + len(run)] = predictions[positions]
        for index, prediction in zip(indices, predictions):
            self._windows.put(int(index), np.ascontiguousarray(prediction))

    def publish(self, indices: np.ndarray) -> None:
        """Count saved tiles ``indices`` as done: recompute what they reach, then record them."""
        indices = np.asarray(indices, dtype=np.int64)
        if not len(indices):
            return
        done = self.done.copy()
        done.ravel()[indices] = True
        blocks = self._blocks_reached(indices)
        for row, first, last in chunk_runs(blocks):
            self._write_blocks(row, first, last, done)
        self._levels.rebuild_above(blocks)
        s = self.grid.stride
        rows, cols = zip(*blocks)
        if reapply_over(self.store, (min(rows) * s, min(cols) * s, (max(rows) + 1) * s,
                                     (max(cols) + 1) * s)):
            self._levels.forget()  # corrections were written over what it holds
        self.store.done[...] = done.astype(np.uint8)
        self.done = done

    def _blocks_reached(self, indices: np.ndarray) -> set[tuple[int, int]]:
        """Blocks (row, col) in the 3 x 3 neighbourhood of each tile."""
        rows, cols = self.grid.grid_shape
        reached = set()
        for index in indices:
            r, c = divmod(int(index), cols)
            reached.update((rr, cc) for rr in range(max(r - 1, 0), min(r + 2, rows))
                           for cc in range(max(c - 1, 0), min(c + 2, cols)))
        return reached

    def _write_blocks(self, row: int, first: int, last: int, done: np.ndarray) -> None:
        """Recompute level-0 blocks (row, first..last) and write them in one call per array."""
        parts = [blend_block(self.grid, row, col, done, self._window, self._weights,
                             self._n_classes) for col in range(first, last + 1)]
        self._levels.write(0, row, first, np.concatenate(parts, axis=2))

    def _window(self, index: int) -> np.ndarray:
        window = self._windows.get(index)
        if window is None:
            window = self.store.tiles[divmod(index, self.grid.grid_shape[1])]
            self._windows.put(index, window)
        return window



def _runs(ordered: np.ndarray, cols: int) -> list[np.ndarray]:
    """Split sorted flat indices into runs of consecutive tiles within one row."""
    if not len(ordered):
        return []
    breaks = np.flatnonzero((np.diff(ordered) != 1) | (np.diff(ordered // cols) != 0)) + 1
    return np.split(ordered, breaks)
