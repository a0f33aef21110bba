"""Blending stored tile predictions into result blocks, and 2 x 2 pooling for overviews.

Pure numpy, no state. The result of a block (one tile core, ``stride x stride``
grid px) is a fixed function of the predictions of the *done* tiles whose
windows reach it::

    P(pixel) = sum_t w_t(pixel) q_t(pixel) / (255 * sum_t w_t(pixel))

with ``q_t`` tile ``t``'s class probabilities x 255 (uint8) over its window
and ``w_t`` the sin² weights of :func:`napari_histoseg.geometry.blend_weights`.
Tiles are summed in a fixed order (row-major over the 3 x 3 neighbourhood),
so recomputing a block always gives the same bytes, whatever order the tiles
finished in. Pixels that no done tile reaches are NaN ("not computed").
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from napari_histoseg.geometry import TileGrid

#: Mask value of pixels that no finished tile reaches.
NOT_COMPUTED = 255
#: Windows of a grid, looked up by flat tile index: (C, tile_size, tile_size) uint8.
WindowSource = Callable[[int], np.ndarray]


def block_box(grid: TileGrid, row: int, col: int) -> tuple[int, int, int, int]:
    """``y0, x0, y1, x1`` of block (row, col) in grid px (its tile's core, cropped)."""
    (y, x), (h, w) = grid.core(row, col)
    return y, x, y + h, x + w


def blend_block(grid: TileGrid, row: int, col: int, done: np.ndarray, window: WindowSource,
                weights: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, h, w) float32 blended probabilities of block (row, col); NaN where not computed.

    Args:
        done: (rows, cols) bool, the tiles whose predictions count.
        window: returns a done tile's (C, tile_size, tile_size) uint8 prediction.
        weights: (tile_size, tile_size) float32 blending weights.
    """
    y0, x0, y1, x1 = block_box(grid, row, col)
    weight = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
    total = np.zeros((n_classes, *weight.shape), dtype=np.float32)
    rows, cols = grid.grid_shape
    for r in range(max(row - 1, 0), min(row + 2, rows)):
        for c in range(max(col - 1, 0), min(col + 2, cols)):
            if not done[r, c]:
                continue
            (wy, wx), (t, _) = grid.window(r, c)
            ya, yb, xa, xb = max(y0, wy), min(y1, wy + t), max(x0, wx), min(x1, wx + t)
            if ya >= yb or xa >= xb:
                continue
            q = window(r * cols + c)
            w = weights[ya - wy:yb - wy, xa - wx:xb - wx]
            total[:, ya - y0:yb - y0, xa - x0:xb - x0] += w * q[:, ya - wy:yb - wy, xa - wx:xb - wx]
            weight[ya - y0:yb - y0, xa - x0:xb - x0] += w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / (255.0 * weight), np.nan).astype(np.float32)


def labels_of(probabilities: np.ndarray) -> np.ndarray:
    """(h, w) uint8 argmax of (C, h, w) probabilities; NOT_COMPUTED where they are NaN.

    Ties go to the lower class id, as with ``np.argmax``.
    """
    best = probabilities[0]
    labels = np.zeros(best.shape, dtype=np.uint8)
    for index in range(1, len(probabilities)):
        better = probabilities[index] > best
        labels[better] = index
        best = np.where(better, probabilities[index], best)
    labels[np.isnan(probabilities[0])] = NOT_COMPUTED
    return labels


def pool_2x2(probabilities: np.ndarray) -> np.ndarray:
    """(C, ceil(h/2), ceil(w/2)) float32 mean of each 2 x 2 block, ignoring NaN children.

    A parent is NaN only when all its children are; the mean of a probability
    field is the probability field of the coarser pixel.
    """
    x = probabilities.astype(np.float32, copy=False)
    c, h, w = x.shape
    if h % 2 or w % 2:  # only at the image's bottom or right edge
        padded = np.full((c, h + h % 2, w + w % 2), np.nan, dtype=np.float32)
        padded[:, :h, :w] = x
        x = padded
    missing = np.isnan(x)
    quads = [(slice(None), slice(i, None, 2), slice(j, None, 2)) for i in (0, 1) for j in (0, 1)]
    if not missing.any():  # the common case
        return (x[quads[0]] + x[quads[1]] + x[quads[2]] + x[quads[3]]) * np.float32(0.25)
    values = np.where(missing, np.float32(0), x)
    present = (~missing).view(np.uint8)
    total = values[quads[0]] + values[quads[1]] + values[quads[2]] + values[quads[3]]
    count = present[quads[0]] + present[quads[1]] + present[quads[2]] + present[quads[3]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.float32(np.nan)).astype(np.float32)
