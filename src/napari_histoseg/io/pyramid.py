"""Overview levels of a ResultStore, rebuilt from the level below over a changed box.

One reduction for every writer: level k+1's probabilities are the 2 x 2 mean of
level k's (:func:`napari_histoseg.io.blend.pool_2x2`, NaN children ignored) and
its mask their argmax (:func:`napari_histoseg.io.blend.labels_of`). The tile
writer (:mod:`.result_update`) and mask edits (:mod:`.mask_edit`) both call it,
so every zoom of the mask agrees whoever wrote level 0. Each rebuilt pixel is a
fixed function of its children, so rebuilding a box twice writes the same bytes.
"""

from __future__ import annotations

import numpy as np

from napari_histoseg.io.blend import labels_of, pool_2x2

#: A box in pixels of one level: ``y0, x0, y1, x1`` (end exclusive).
PixelBox = tuple[int, int, int, int]


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


def rebuild_overviews(store, box: PixelBox) -> list[PixelBox]:
    """Rebuild every overview level above a changed level-0 ``box``; the box of each level.

    ``box`` is ``y0, x0, y1, x1`` in level-0 result px; at level k it covers
    ``floor(y0 / 2**k) .. ceil(y1 / 2**k)``. Returns the boxes, level 0 first.
    """
    boxes = [tuple(int(v) for v in box)]
    for level in range(1, store.n_levels):
        y0, x0, y1, x1 = boxes[-1]
        parent = (y0 // 2, x0 // 2, -(-y1 // 2), -(-x1 // 2))
        write_overview(store, level, slice(parent[0], parent[2]), slice(parent[1], parent[3]))
        boxes.append(parent)
    return boxes
