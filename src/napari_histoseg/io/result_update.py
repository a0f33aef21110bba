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
from napari_histoseg.io.blend import blend_block, labels_of, pool_2x2, quantise
from napari_histoseg.io.results import ResultStore

#: Memory for decoded tile predictions (a batch and its neighbours' rows), bytes.
CACHE_BYTES = 128 * 2**20
#: Memory for chunks as stored (uint8), the children of the next overview rebuild, bytes.
CHUNK_CACHE_BYTES = 64 * 2**20


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
        self._chunks = ArrayCache(CHUNK_CACHE_BYTES)

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
        runs = _block_runs(self._blocks_reached(indices))
        for row, first, last in runs:
            self._write_blocks(row, first, last, done)
        for level in range(1, self.store.n_levels):
            runs = _block_runs({(r // 2, c // 2) for row, first, last in runs
                                for r in (row,) for c in range(first, last + 1)})
            for row, first, last in runs:
                self._write_overview(level, row, first, last)
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
        self._write_chunks(0, row, first, np.concatenate(parts, axis=2))

    def _write_overview(self, level: int, row: int, first: int, last: int) -> None:
        """Rebuild level ``level``'s chunks (row, first..last) from their 2 x 2 children."""
        children = [self._chunk_row(level - 1, 2 * row + dy, 2 * first, 2 * last + 1)
                    for dy in (0, 1)]
        children = [part for part in children if part is not None]
        self._write_chunks(level, row, first, pool_2x2(np.concatenate(children, axis=1)))

    def _write_chunks(self, level: int, row: int, first: int, probabilities: np.ndarray) -> None:
        """Write (C, h, w) probabilities (float, or uint8 as stored) and their labels from
        chunk (row, first) on."""
        s = self.grid.stride
        stored = probabilities if probabilities.dtype == np.uint8 else quantise(probabilities)
        y0, x0 = row * s, first * s
        y1, x1 = y0 + stored.shape[1], x0 + stored.shape[2]
        self.store.probability_levels()[level][:, y0:y1, x0:x1] = stored
        self.store.mask_levels()[level][y0:y1, x0:x1] = labels_of(probabilities)
        for col in range(first, first + -(-stored.shape[2] // s)):
            part = stored[:, :, (col - first) * s:(col - first + 1) * s]
            self._chunks.put((level, row, col), np.ascontiguousarray(part))

    def _chunk_row(self, level: int, row: int, first: int, last: int) -> np.ndarray | None:
        """(C, h, w) uint8 chunks (row, first..last) of a level as stored; None past its end."""
        array = self.store.probability_levels()[level]
        s = self.grid.stride
        rows, cols = -(-array.shape[1] // s), -(-array.shape[2] // s)
        if row >= rows:
            return None
        parts = []
        for col in range(first, min(last, cols - 1) + 1):
            chunk = self._chunks.get((level, row, col))
            if chunk is None:
                chunk = array[:, row * s:(row + 1) * s, col * s:(col + 1) * s]
                self._chunks.put((level, row, col), chunk)
            parts.append(chunk)
        return np.concatenate(parts, axis=2)

    def _window(self, index: int) -> np.ndarray:
        window = self._windows.get(index)
        if window is None:
            window = self.store.tiles[divmod(index, self.grid.grid_shape[1])]
            self._windows.put(index, window)
        return window


class ArrayCache:
    """Least-recently-used arrays by key, at most ``max_bytes`` in all (one array always fits)."""

    def __init__(self, max_bytes: int):
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[object, np.ndarray] = OrderedDict()

    def get(self, key: object) -> np.ndarray | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: object, array: np.ndarray) -> None:
        old = self._items.pop(key, None)
        self._bytes += array.nbytes - (old.nbytes if old is not None else 0)
        self._items[key] = array
        while self._bytes > self._max_bytes and len(self._items) > 1:
            self._bytes -= self._items.popitem(last=False)[1].nbytes


def _runs(ordered: np.ndarray, cols: int) -> list[np.ndarray]:
    """Split sorted flat indices into runs of consecutive tiles within one row."""
    if not len(ordered):
        return []
    breaks = np.flatnonzero((np.diff(ordered) != 1) | (np.diff(ordered // cols) != 0)) + 1
    return np.split(ordered, breaks)


def _block_runs(blocks: set[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(row, first col, last col) of runs of neighbouring blocks, row-major."""
    runs: list[list[int]] = []
    for row, col in sorted(blocks):
        if runs and runs[-1][0] == row and runs[-1][2] == col - 1:
            runs[-1][2] = col
        else:
            runs.append([row, col, col])
    return [tuple(run) for run in runs]
