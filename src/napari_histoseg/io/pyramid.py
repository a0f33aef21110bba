"""Writing a ResultStore's levels chunk by chunk, and rebuilding overviews above changed chunks.

One reduction for every writer: level k+1's stored probabilities are the 2 x 2
integer mean of level k's stored (uint8) probabilities
(:func:`napari_histoseg.io.blend.pool_2x2`, missing children ignored) and its
mask their argmax (:func:`napari_histoseg.io.blend.labels_of`). Every level has
the same chunk size (the grid's stride; smaller only for a level that is one
chunk), so chunk (row, col) of level k+1 is made of chunks (2 row .. 2 row + 1,
2 col .. 2 col + 1) of level k. The tile writer (:mod:`.result_update`) and mask
edits (:mod:`.mask_edit`) both rebuild through :class:`LevelChunks` with the
level-0 chunks they changed. Each rebuilt pixel is a fixed function of its
stored children, so rebuilding twice writes the same bytes.

:class:`LevelChunks` keeps the chunks it wrote or read, as stored, in a bounded
cache (:class:`.array_cache.ArrayCache`): the children of the next rebuild are
mostly the chunks just written, so they are not read back and decoded.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from napari_histoseg.io.array_cache import ArrayCache
from napari_histoseg.io.blend import labels_of, pool_2x2, quantise

#: A box in pixels of one level: ``y0, x0, y1, x1`` (end exclusive).
PixelBox = tuple[int, int, int, int]
#: A chunk of a level: (row, col) in chunks.
Chunk = tuple[int, int]
#: Memory for stored chunks kept by a writer, bytes.
CHUNK_CACHE_BYTES = 64 * 2**20


class LevelChunks:
    """Writes a store's probability and mask levels by chunk runs; rebuilds overviews.

    Not thread-safe; the caller holds the workspace lock. Chunks written by
    anything else meanwhile must be announced with :meth:`forget`.
    """

    def __init__(self, store, cache_bytes: int = CHUNK_CACHE_BYTES):
        self.store = store
        self.stride = store.spec.grid.stride
        self._cache = ArrayCache(cache_bytes)

    def write(self, level: int, row: int, first: int, probabilities: np.ndarray) -> None:
        """Write (C, h, w) probabilities (float with NaN, or uint8 as stored) and their
        labels from chunk (row, first) of ``level`` on."""
        s = self.stride
        stored = probabilities if probabilities.dtype == np.uint8 else quantise(probabilities)
        y0, x0 = row * s, first * s
        y1, x1 = y0 + stored.shape[1], x0 + stored.shape[2]
        self.store.probability_levels()[level][:, y0:y1, x0:x1] = stored
        self.store.mask_levels()[level][y0:y1, x0:x1] = labels_of(probabilities)
        for col in range(first, first + -(-stored.shape[2] // s)):
            part = stored[:, :, (col - first) * s:(col - first + 1) * s]
            self._cache.put((level, row, col), np.ascontiguousarray(part))

    def rebuild_above(self, chunks: Iterable[Chunk]) -> int:
        """Rebuild every overview chunk above the changed level-0 ``chunks``; how many.

        Neighbouring chunks of a row are rebuilt in one write per level.
        """
        changed, written = set(chunks), 0
        for level in range(1, self.store.n_levels):
            changed = {(row // 2, col // 2) for row, col in changed}
            for row, first, last in chunk_runs(changed):
                children = [self._stored_row(level - 1, 2 * row + dy, 2 * first, 2 * last + 1)
                            for dy in (0, 1)]
                children = [part for part in children if part is not None]
                if children:
                    self.write(level, row, first, pool_2x2(np.concatenate(children, axis=1)))
                    written += last - first + 1
        return written

    def forget(self) -> None:
        """Drop every cached chunk (the store was written by someone else)."""
        self._cache = ArrayCache(self._cache.max_bytes)

    def _stored_row(self, level: int, row: int, first: int, last: int) -> np.ndarray | None:
        """(C, h, w) uint8 chunks (row, first..last) of a level as stored; None past its end."""
        array = self.store.probability_levels()[level]
        s = self.stride
        rows, cols = -(-array.shape[1] // s), -(-array.shape[2] // s)
        if row >= rows or first >= cols:
            return None
        parts = []
        for col in range(first, min(last, cols - 1) + 1):
            chunk = self._cache.get((level, row, col))
            if chunk is None:
                chunk = array[:, row * s:(row + 1) * s, col * s:(col + 1) * s]
                self._cache.put((level, row, col), chunk)
            parts.append(chunk)
        return np.concatenate(parts, axis=2)


def rebuild_above(store, chunks: Iterable[Chunk]) -> int:
    """Rebuild every overview chunk of ``store`` above the changed level-0 ``chunks``; how many."""
    return LevelChunks(store, cache_bytes=0).rebuild_above(chunks)


def chunks_meeting(store, box: PixelBox) -> set[Chunk]:
    """Level-0 chunks that meet ``box`` (level-0 px)."""
    s = store.spec.grid.stride
    y0, x0, y1, x1 = box
    return {(row, col) for row in range(y0 // s, -(-y1 // s)) for col in range(x0 // s, -(-x1 // s))}


def chunk_runs(chunks: Iterable[Chunk]) -> list[tuple[int, int, int]]:
    """(row, first col, last col) of runs of neighbouring chunks, row-major."""
    runs: list[list[int]] = []
    for row, col in sorted(chunks):
        if runs and runs[-1][0] == row and runs[-1][2] == col - 1:
            runs[-1][2] = col
        else:
            runs.append([row, col, col])
    return [tuple(run) for run in runs]
