"""Overview levels of a ResultStore, rebuilt chunk by chunk above changed level-0 chunks.

One reduction for every writer: level k+1's probabilities are the 2 x 2 mean of
level k's stored (float16) probabilities (:func:`napari_histoseg.io.blend.pool_2x2`,
NaN children ignored) and its mask their argmax
(:func:`napari_histoseg.io.blend.labels_of`). Every level has the same chunk
size (the grid's stride; smaller only for a level that is one chunk), so chunk
(row, col) of level k+1 is made of chunks (2 row .. 2 row + 1, 2 col .. 2 col + 1)
of level k. The tile writer (:mod:`.result_update`) and mask
edits (:mod:`.mask_edit`) both call :func:`rebuild_above` with the level-0 chunks
they changed. Each rebuilt pixel is a fixed function of its stored children, so
rebuilding twice writes the same bytes.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from napari_histoseg.io.blend import labels_of, pool_2x2

#: A box in pixels of one level: ``y0, x0, y1, x1`` (end exclusive).
PixelBox = tuple[int, int, int, int]
#: A chunk of a level: (row, col) in chunks.
Chunk = tuple[int, int]


def write_overview(store, level: int, rows: slice, cols: slice) -> None:
    """Rebuild pixels ``[rows, cols]`` of overview ``level`` (>= 1) from their 2 x 2 children.

    Args:
        store: a :class:`~napari_histoseg.io.results.ResultStore` open for writing.
        rows, cols: pixel ranges of ``level`` (clipped to its shape).
    """
    below = store.probability_levels()[level - 1]
    children = below[:, 2 * rows.start:2 * rows.stop, 2 * cols.start:2 * cols.stop]
    if children.size == 0:
        return
    pooled = pool_2x2(children.astype(np.float32))
    y1, x1 = rows.start + pooled.shape[1], cols.start + pooled.shape[2]
    store.probability_levels()[level][:, rows.start:y1, cols.start:x1] = pooled.astype(np.float16)
    store.mask_levels()[level][rows.start:y1, cols.start:x1] = labels_of(pooled)


def rebuild_above(store, chunks: Iterable[Chunk]) -> int:
    """Rebuild every overview chunk above the changed level-0 ``chunks``; how many were written.

    Neighbouring chunks of a row are rebuilt in one read and one write per level.
    """
    s = store.spec.grid.stride
    changed, written = set(chunks), 0
    for level in range(1, store.n_levels):
        changed = {(row // 2, col // 2) for row, col in changed}
        for row, first, last in chunk_runs(changed):
            write_overview(store, level, slice(row * s, (row + 1) * s),
                           slice(first * s, (last + 1) * s))
            written += last - first + 1
    return written


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
