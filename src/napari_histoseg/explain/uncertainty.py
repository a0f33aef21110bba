"""The uncertainty review queue: tiles ranked by how unsure the model is there (numpy).

Two measures per finished tile core, both in [0, 1]:

* **entropy**: the mean over the core's computed pixels of the blended
  probabilities' entropy, ``-sum_c p_c log p_c / log C`` (0 = certain,
  1 = all classes equally likely);
* **disagreement**: the mean of ``|heat - [mask == target]|``: high where the
  heatmap points at pixels the mask does not call the target class, or the
  mask calls it where the model did not look.

A tile's score is one of them, or their mean (``by="both"``), and the queue
lists the highest first. The store is read one row of tiles at a time, so
memory stays bounded whatever the slide's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from napari_histoseg.io.blend import dequantise
from napari_histoseg.io.results import ResultStore

Ranking = Literal["both", "entropy", "disagreement"]
#: Tiles scoring less are not worth a reviewer's time: the model is sure there.
MIN_SCORE = 0.05


@dataclass(frozen=True)
class ReviewItem:
    """One tile of the queue: ``tile`` (row, col) of the grid, ``box`` (y0, x0, y1, x1)
    in level-0 slide px, its measures and its ``score``; rank 0 first."""

    rank: int
    tile: tuple[int, int]
    box: tuple[float, float, float, float]
    entropy: float
    disagreement: float
    score: float


def review_queue(results: ResultStore, heatmap: ResultStore | None, target_class: int, *,
                 by: Ranking = "both", length: int = 20,
                 min_score: float = MIN_SCORE) -> list[ReviewItem]:
    """The ``length`` least certain finished tiles scoring at least ``min_score``,
    least certain first (a confident model leaves the queue short, or empty).

    Without a heatmap, disagreement is 0 and ``by`` falls back to "entropy".
    Only tiles finished in both stores are ranked.
    """
    if by not in ("both", "entropy", "disagreement"):
        raise ValueError(f"by must be 'both', 'entropy' or 'disagreement', got {by!r}")
    grid = results.spec.grid
    done = results.done_tiles()
    if heatmap is not None:
        if heatmap.spec.grid != grid:
            raise ValueError("the heatmap and the segmentation lie on different grids")
        done &= heatmap.done_tiles()
    else:
        by = "entropy"
    entropy, disagreement = tile_measures(results, heatmap, target_class, done)
    score = {"both": (entropy + disagreement) / 2, "entropy": entropy,
             "disagreement": disagreement}[by]
    flat = np.flatnonzero(done.ravel())
    order = flat[np.argsort(-score.ravel()[flat], kind="stable")]
    order = order[score.ravel()[order] >= min_score][:length]
    boxes = grid.core_boxes_level0(order)
    cols = grid.grid_shape[1]
    return [ReviewItem(rank, divmod(int(i), cols), tuple(float(v) for v in box),
                       float(entropy.flat[i]), float(disagreement.flat[i]), float(score.flat[i]))
            for rank, (i, box) in enumerate(zip(order, boxes))]


def tile_measures(results: ResultStore, heatmap: ResultStore | None, target_class: int,
                  done: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) mean entropy and mean disagreement of each tile core (0 where not done)."""
    grid = results.spec.grid
    rows, cols = grid.grid_shape
    entropy, disagreement = np.zeros((rows, cols)), np.zeros((rows, cols))
    probabilities = results.probability_levels()[0]
    for row in np.flatnonzero(done.any(axis=1)):
        y0, y1 = row * grid.stride, min((row + 1) * grid.stride, grid.shape[0])
        p = dequantise(probabilities[:, y0:y1])
        entropy[row] = block_means(pixel_entropy(p), grid.stride, cols)
        if heatmap is not None:
            heat = dequantise(heatmap.probability_levels()[0][0, y0:y1])
            called = (np.nanargmax(np.nan_to_num(p, nan=-1.0), axis=0) == target_class)
            gap = np.abs(heat - called)
            gap[np.isnan(p[0])] = np.nan
            disagreement[row] = block_means(gap, grid.stride, cols)
    return np.where(done, entropy, 0.0), np.where(done, disagreement, 0.0)


def pixel_entropy(probabilities: np.ndarray) -> np.ndarray:
    """(h, w) entropy of (C, h, w) probabilities over log C, in [0, 1]; NaN stays NaN."""
    p = np.clip(probabilities, 1e-7, 1.0)
    with np.errstate(invalid="ignore"):
        h = -(p * np.log(p)).sum(axis=0) / np.log(len(probabilities))
    return np.clip(h, 0.0, 1.0)


def block_means(values: np.ndarray, stride: int, cols: int) -> np.ndarray:
    """(cols,) NaN-ignoring means of an (h, w) strip's ``stride``-wide blocks (0 if empty)."""
    h, w = values.shape
    padded = np.full((h, cols * stride), np.nan, dtype=np.float64)
    padded[:, :w] = values
    blocks = padded.reshape(h, cols, stride).transpose(1, 0, 2).reshape(cols, -1)
    present = np.isfinite(blocks)
    counts = present.sum(axis=1)
    sums = np.where(present, blocks, 0.0).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
