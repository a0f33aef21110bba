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

Stored probabilities are uint8: ``round(P x 254)``, with ``NOT_COMPUTED``
(255) for NaN (:func:`quantise`, :func:`dequantise`). Overview levels are
pooled in integers from their stored children (:func:`pool_2x2`), so an
overview is a fixed function of the bytes below it: exact whatever was
recomputed or resumed, and cheap (no float conversions).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from napari_histoseg.geometry import TileGrid

#: Mask and stored-probability value of pixels that no finished tile reaches.
NOT_COMPUTED = 255
#: Stored probability of a certain class (probability 1.0).
PROBABILITY_MAX = 254
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


def quantise(probabilities: np.ndarray) -> np.ndarray:
    """Float probabilities in [0, 1] (NaN = not computed) -> uint8 as stored."""
    missing = np.isnan(probabilities)
    stored = np.rint(np.where(missing, 0, probabilities) * PROBABILITY_MAX).astype(np.uint8)
    stored[missing] = NOT_COMPUTED
    return stored


def dequantise(stored: np.ndarray) -> np.ndarray:
    """Stored uint8 probabilities -> float32 in [0, 1], NaN where not computed."""
    probabilities = stored.astype(np.float32) / PROBABILITY_MAX
    probabilities[stored == NOT_COMPUTED] = np.nan
    return probabilities


def labels_of(probabilities: np.ndarray) -> np.ndarray:
    """(h, w) uint8 argmax of (C, h, w) probabilities; NOT_COMPUTED where they are missing.

    Takes float probabilities (NaN = missing) or stored uint8 ones (255 =
    missing). Ties go to the lower class id, as with ``np.argmax``.
    """
    best = probabilities[0]
    labels = np.zeros(best.shape, dtype=np.uint8)
    for index in range(1, len(probabilities)):
        better = probabilities[index] > best
        labels[better] = index
        best = np.where(better, probabilities[index], best)
    if probabilities.dtype == np.uint8:
        labels[probabilities[0] == NOT_COMPUTED] = NOT_COMPUTED
    else:
        labels[np.isnan(probabilities[0])] = NOT_COMPUTED
    return labels


def pool_2x2(stored: np.ndarray) -> np.ndarray:
    """(C, ceil(h/2), ceil(w/2)) uint8 rounded mean of each 2 x 2 block of stored probabilities.

    Missing children (``NOT_COMPUTED``) are left out; a parent is missing only
    when all its children are. The mean of a probability field is the
    probability field of the coarser pixel. Integer arithmetic throughout.
    """
    c, h, w = stored.shape
    if h % 2 or w % 2:  # only at the image's bottom or right edge
        padded = np.full((c, h + h % 2, w + w % 2), NOT_COMPUTED, dtype=np.uint8)
        padded[:, :h, :w] = stored
        stored = padded
    missing = stored == NOT_COMPUTED
    if not missing.any():  # the common case: every child computed
        return ((_sum_2x2(stored.astype(np.uint16)) + 2) >> 2).astype(np.uint8)
    count = _sum_2x2((~missing).astype(np.uint16))
    total = _sum_2x2(np.where(missing, 0, stored).astype(np.uint16))
    mean = (total + count // 2) // np.maximum(count, 1)
    return np.where(count > 0, mean, NOT_COMPUTED).astype(np.uint8)


def _sum_2x2(x: np.ndarray) -> np.ndarray:
    """(C, h/2, w/2) sums of the 2 x 2 blocks of (C, h, w) ``x``; rows first, so reads stay contiguous."""
    rows = x[:, 0::2] + x[:, 1::2]
    return rows[:, :, 0::2] + rows[:, :, 1::2]
