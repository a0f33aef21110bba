"""Key regions: the peak windows of a heatmap, ranked, as level-0 boxes (numpy only).

A square window (``window`` px, 128 by default, at the analysis resolution of
the map) slides over a 2-D score map in steps of ``stride`` px. Each window's
*mass* is the mean heatmap inside it, its *tumour* factor the mean tumour
probability inside it (1 when no probability map is given), and its score is
``mass * tumour``. Windows are taken greedily by score, each one suppressing
the later windows that overlap it by more than ``max_iou`` (non-maximum
suppression), so the result is the map's peaks, best first, and no two boxes
cover the same place.

Window sums come from block sums: the map is summed over ``stride x stride``
blocks once and a window is ``window / stride`` blocks on a side, so the cost
is one pass over the map whatever the window. Pixels that are NaN (not
computed) count as absent: they add no mass and the window's mean is taken over
the pixels present; a window with fewer than half its pixels present is
skipped.

The same function picks the 40x detail crops of the fusion network (the
Grad-CAM map at 10x, ``downsample=4``, gives 512 x 512 level-0 boxes)::

    >>> import numpy as np
    >>> heat = np.zeros((512, 512), np.float32); heat[300:400, 40:140] = 1.0
    >>> best = find_key_regions(heat, downsample=4.0, max_regions=1)[0]
    >>> best.box, round(best.score, 2)
    ((1152.0, 128.0, 1664.0, 640.0), 0.61)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Fewest pixels present (not NaN, inside the map) for a window to count, as a fraction.
MIN_PRESENT = 0.5


@dataclass(frozen=True)
class KeyRegion:
    """One ranked window.

    Attributes:
        rank: 0 for the best region, then 1, 2, ...
        box: ``(y0, x0, y1, x1)`` in level-0 px (``map px * downsample + origin``),
            clipped to the map's extent.
        score: ``mass * tumour``, in [0, 1] for maps in [0, 1].
        mass: mean heatmap over the window's present pixels.
        tumour: mean tumour probability over the window (1.0 when none was given).
    """

    rank: int
    box: tuple[float, float, float, float]
    score: float
    mass: float
    tumour: float


def find_key_regions(heatmap: np.ndarray, tumour: np.ndarray | None = None, *,
                     window: int = 128, stride: int | None = None, max_regions: int = 10,
                     max_iou: float = 0.0, downsample: float = 1.0,
                     origin: tuple[float, float] = (0.0, 0.0),
                     min_score: float = 0.0) -> list[KeyRegion]:
    """The ``max_regions`` best windows of ``heatmap``, best first.

    Args:
        heatmap: (h, w) scores at the analysis resolution, in [0, 1]; NaN = not computed.
        tumour: optional (h, w) tumour probability on the same grid; NaN = not computed.
        window: side of the square window in map px; along a side of the map shorter
            than the window, the one window there spans the whole side.
        stride: step between windows in map px; ``window // 4`` by default. Must divide
            ``window``.
        max_regions: most regions returned.
        max_iou: a window overlapping an already chosen one by more than this
            intersection-over-union is dropped; 0 keeps the boxes disjoint.
        downsample: level-0 px per map px.
        origin: level-0 ``(y, x)`` of the map's pixel (0, 0) (a map of a crop).
        min_score: windows scoring this or less are left out (0 drops empty windows).

    Returns:
        Up to ``max_regions`` :class:`KeyRegion`, by decreasing score.
    """
    heat = _checked_map(heatmap, "heatmap")
    prob = None if tumour is None else _checked_map(tumour, "tumour")
    if prob is not None and prob.shape != heat.shape:
        raise ValueError(f"tumour map shape {prob.shape} differs from heatmap shape {heat.shape}")
    window_yx, step = _window_and_stride(window, stride)
    if max_regions < 1 or not 0.0 <= max_iou < 1.0 or downsample <= 0:
        raise ValueError(f"need max_regions >= 1, 0 <= max_iou < 1 and downsample > 0; got "
                         f"{max_regions}, {max_iou}, {downsample}")
    present = np.isfinite(heat) & (True if prob is None else np.isfinite(prob))
    counts = _window_sums(present.astype(np.float64), window_yx, step)
    mass_sum = _window_sums(np.where(present, heat, 0.0), window_yx, step)
    full = min(window_yx[0], heat.shape[0]) * min(window_yx[1], heat.shape[1])
    enough = counts >= MIN_PRESENT * full
    safe = np.where(enough, counts, 1.0)
    mass = mass_sum / safe
    if prob is None:
        tumour_mean = np.ones_like(mass)
    else:
        tumour_mean = _window_sums(np.where(present, prob, 0.0), window_yx, step) / safe
    score = np.where(enough, mass * tumour_mean, -np.inf)
    chosen = _suppress(score, window_yx, step, max_regions, max_iou, min_score)
    return [_region(rank, index, score, mass, tumour_mean, window_yx, step, heat.shape,
                    downsample, origin) for rank, index in enumerate(chosen)]


def _checked_map(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"{name} must be a non-empty 2-D (h, w) map, got shape {array.shape}")
    return array


def _window_and_stride(window: int, stride: int | None) -> tuple[tuple[int, int], int]:
    """Window (h, w) and a stride that divides it."""
    if window < 1:
        raise ValueError(f"window must be at least 1 px, got {window}")
    step = max(1, window // 4) if stride is None else stride
    if step < 1 or window % step:
        raise ValueError(f"stride {stride} must be >= 1 and divide the window {window}")
    # Along a side shorter than the window, the one window there covers the whole side.
    return (window, window), step


def _window_sums(values: np.ndarray, window_yx: tuple[int, int], step: int) -> np.ndarray:
    """Sums over every window at positions (i * step, j * step), shape (n_y, n_x)."""
    h, w = values.shape
    padded = np.zeros((-(-h // step) * step, -(-w // step) * step))
    padded[:h, :w] = values
    blocks = padded.reshape(padded.shape[0] // step, step, -1, step).sum(axis=(1, 3))
    table = np.zeros((blocks.shape[0] + 1, blocks.shape[1] + 1))
    table[1:, 1:] = blocks.cumsum(0).cumsum(1)
    ky, kx = window_yx[0] // step, window_yx[1] // step
    ny, nx = max(1, blocks.shape[0] - ky + 1), max(1, blocks.shape[1] - kx + 1)
    ky, kx = min(ky, blocks.shape[0]), min(kx, blocks.shape[1])
    return (table[ky:ky + ny, kx:kx + nx] - table[:ny, kx:kx + nx]
            - table[ky:ky + ny, :nx] + table[:ny, :nx])


def _suppress(score: np.ndarray, window_yx: tuple[int, int], step: int, max_regions: int,
              max_iou: float, min_score: float) -> list[int]:
    """Flat window indices chosen greedily by score with non-maximum suppression."""
    order = np.argsort(-score, axis=None, kind="stable")
    order = order[score.ravel()[order] > min_score]
    starts = np.stack(np.unravel_index(order, score.shape), axis=1) * step
    chosen: list[int] = []
    kept = np.empty((0, 2))
    area = window_yx[0] * window_yx[1]
    for index, start in zip(order, starts):
        if len(kept):
            overlap_y = np.clip(window_yx[0] - np.abs(kept[:, 0] - start[0]), 0, None)
            overlap_x = np.clip(window_yx[1] - np.abs(kept[:, 1] - start[1]), 0, None)
            inter = overlap_y * overlap_x
            if np.any(inter / (2 * area - inter) > max_iou):
                continue
        chosen.append(int(index))
        kept = np.vstack([kept, start])
        if len(chosen) == max_regions:
            break
    return chosen


def _region(rank: int, index: int, score: np.ndarray, mass: np.ndarray, tumour: np.ndarray,
            window_yx: tuple[int, int], step: int, shape: tuple[int, int], downsample: float,
            origin: tuple[float, float]) -> KeyRegion:
    i, j = np.unravel_index(index, score.shape)
    y0, x0 = i * step, j * step
    y1, x1 = min(y0 + window_yx[0], shape[0]), min(x0 + window_yx[1], shape[1])
    box = (y0 * downsample + origin[0], x0 * downsample + origin[1],
           y1 * downsample + origin[0], x1 * downsample + origin[1])
    return KeyRegion(rank=rank, box=tuple(float(v) for v in box), score=float(score[i, j]),
                     mass=float(mass[i, j]), tumour=float(tumour[i, j]))
