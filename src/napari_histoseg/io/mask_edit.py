"""Mask edits in a ResultStore: the window under a view, writing labels, the model's pixels.

An edit works on a window of mask level 0 (the analysis grid, ``downsample``
level-0 slide px per px). Writing it keeps the store's invariant that every
level's mask is the argmax of that level's probabilities:

* level 0: each changed pixel gets the edited label, and its probabilities
  become one-hot (the annotator's word is certain), so ``labels_of`` of the
  probabilities is the edited mask;
* overviews: the chunks above the changed level-0 chunks are rebuilt by
  :func:`.pyramid.rebuild_above`, as the tile writer rebuilds them.

The model's own pixels are never lost: they are recomputed from the stored
tile predictions (:func:`.blend.blend_block`), which edits never touch. Plain
numpy and zarr; the caller holds the workspace lock.

>>> window = window_for_box(store, ((1000.0, 2000.0), (800.0, 1200.0)))  # doctest: +SKIP
>>> labels = read_window(store, window); labels[10:20, 10:20] = 1        # doctest: +SKIP
>>> write_labels(store, window, labels, labels != read_window(store, window))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from napari_histoseg.geometry import blend_weights
from napari_histoseg.io.blend import (NOT_COMPUTED, PROBABILITY_MAX, blend_block, block_box,
                                      labels_of, quantise)
from napari_histoseg.io.pyramid import Chunk, PixelBox, chunk_runs, chunks_meeting, rebuild_above
from napari_histoseg.io.results import WorkspaceError

#: The largest window one edit may take, in mask px (a 4,096² window commits in < 1 s).
MAX_EDIT_PIXELS = 4096 * 4096


@dataclass(frozen=True)
class EditWindow:
    """A box of mask level 0: ``location`` (y, x) and ``size`` (h, w) in result px."""

    location: tuple[int, int]
    size: tuple[int, int]

    @property
    def box(self) -> PixelBox:
        """``y0, x0, y1, x1`` in result px."""
        (y, x), (h, w) = self.location, self.size
        return (y, x, y + h, x + w)

    def level0(self, downsample: float) -> tuple[tuple[int, int], tuple[int, int]]:
        """``(location, size)`` of the window in level-0 slide px (rounded)."""
        (y, x), (h, w) = self.location, self.size
        return ((round(y * downsample), round(x * downsample)),
                (round(h * downsample), round(w * downsample)))

    @classmethod
    def from_level0(cls, location, shape, downsample: float) -> EditWindow:
        """The window of a record: level-0 ``location`` (y, x), mask ``shape`` (h, w)."""
        return cls((round(location[0] / downsample), round(location[1] / downsample)),
                   (int(shape[0]), int(shape[1])))


def window_for_box(store, box, max_pixels: int = MAX_EDIT_PIXELS) -> EditWindow:
    """The mask window under ``box`` ((y, x), (h, w) in level-0 slide px), clipped to the mask.

    Raises:
        WorkspaceError: the box misses the mask, or covers more than ``max_pixels``
            mask px (the message says to zoom in).
    """
    (y, x), (h, w) = box
    d = store.spec.grid.downsample
    height, width = store.mask_levels()[0].shape
    y0, x0 = max(math.floor(y / d), 0), max(math.floor(x / d), 0)
    y1, x1 = min(math.ceil((y + h) / d), height), min(math.ceil((x + w) / d), width)
    if y1 <= y0 or x1 <= x0:
        raise WorkspaceError(store.path, "the view shows none of the mask; move over the slide")
    if (y1 - y0) * (x1 - x0) > max_pixels:
        raise WorkspaceError(store.path, (
            f"the view covers {y1 - y0:,} x {x1 - x0:,} mask pixels, more than one edit "
            f"takes ({max_pixels:,}); zoom in and edit again"))
    return EditWindow((y0, x0), (y1 - y0, x1 - x0))


def read_window(store, window: EditWindow) -> np.ndarray:
    """(h, w) uint8 copy of mask level 0 under ``window`` (255 = not computed)."""
    y0, x0, y1, x1 = window.box
    return np.asarray(store.mask_levels()[0][y0:y1, x0:x1]).copy()


def check_labels(store, window: EditWindow, labels: np.ndarray, before: np.ndarray) -> None:
    """Refuse edited ``labels`` that do not fit the window or hold no class of the model.

    Raises:
        WorkspaceError: naming the store and the problem.
    """
    if labels.shape != tuple(window.size):
        raise WorkspaceError(store.path, f"the edit is {labels.shape} px but its window is "
                                         f"{tuple(window.size)}")
    n_classes = len(store.spec.class_names)
    changed = labels != before
    bad = np.unique(labels[changed & (labels >= n_classes)])
    if bad.size:
        raise WorkspaceError(store.path, (
            f"the edit paints label {int(bad[0])}, which is no class of this mask "
            f"(0-{n_classes - 1}: {', '.join(store.spec.class_names)}); paint with one of those"))


def write_labels(store, window: EditWindow, labels: np.ndarray,
                 changed: np.ndarray) -> set[Chunk]:
    """Write ``labels`` (h, w) where ``changed`` into level 0, one-hot, and rebuild overviews.

    Only the level-0 chunks holding a changed pixel are read and written (a run
    of neighbouring chunks in one call), and the overview chunks above them.
    Returns those level-0 chunks (empty when nothing changed).
    """
    s = store.spec.grid.stride
    wy, wx = window.location
    dirty = {(row, col) for row, col in chunks_meeting(store, window.box)
             if changed[max(row * s - wy, 0):max((row + 1) * s - wy, 0),
                        max(col * s - wx, 0):max((col + 1) * s - wx, 0)].any()}
    height, width = store.mask_levels()[0].shape
    for row, first, last in chunk_runs(dirty):
        box = (max(row * s, wy), max(first * s, wx),
               min((row + 1) * s, wy + window.size[0], height),
               min((last + 1) * s, wx + window.size[1], width))
        probabilities, mask = _read(store, box)
        inside = _within(box, window.box)
        _paint(probabilities, mask, (slice(None), slice(None)), changed[inside], labels[inside])
        _write(store, box, probabilities, mask)
    rebuild_above(store, dirty)
    return dirty


def model_probabilities(store, box: PixelBox) -> np.ndarray:
    """(C, h, w) float32 probabilities of the model alone over ``box`` (level-0 result px),
    blended from the stored tile predictions; NaN where no finished tile reaches."""
    grid, done = store.spec.grid, store.done_tiles()
    cols = grid.grid_shape[1]
    weights = blend_weights(grid.tile_size, grid.halo)
    n_classes = len(store.spec.class_names)
    y0, x0, y1, x1 = box
    out = np.full((n_classes, y1 - y0, x1 - x0), np.nan, dtype=np.float32)
    for row in range(y0 // grid.stride, -(-y1 // grid.stride)):
        for col in range(x0 // grid.stride, -(-x1 // grid.stride)):
            by0, bx0, by1, bx1 = block_box(grid, row, col)
            block = blend_block(grid, row, col, done,
                                lambda i: store.tiles[divmod(i, cols)], weights, n_classes)
            ya, yb, xa, xb = max(by0, y0), min(by1, y1), max(bx0, x0), min(bx1, x1)
            out[:, ya - y0:yb - y0, xa - x0:xb - x0] = block[:, ya - by0:yb - by0,
                                                             xa - bx0:xb - bx0]
    return out


def restore_model(store, box: PixelBox, overlays) -> None:
    """Put the model's pixels back over ``box``, then the ``overlays`` on top, in order.

    Args:
        overlays: ``(window, labels, changed)`` of the edits that still count, oldest
            first; each sets its changed pixels inside ``box`` one-hot, as
            :func:`write_labels` does.
    """
    model = model_probabilities(store, box)
    mask = labels_of(model)
    model = quantise(model)
    for window, labels, changed in overlays:
        meet = (max(window.box[0], box[0]), max(window.box[1], box[1]),
                min(window.box[2], box[2]), min(window.box[3], box[3]))
        if meet[0] >= meet[2] or meet[1] >= meet[3]:
            continue
        inside = _within(meet, window.box)
        _paint(model, mask, _within(meet, box), changed[inside], labels[inside])
    _write(store, box, model, mask)
    rebuild_above(store, chunks_meeting(store, box))


def _read(store, box: PixelBox) -> tuple[np.ndarray, np.ndarray]:
    """Level 0's (C, h, w) stored (uint8) probabilities and (h, w) mask over ``box``, writable."""
    y0, x0, y1, x1 = box
    probabilities = np.array(store.probability_levels()[0][:, y0:y1, x0:x1])
    return probabilities, np.array(store.mask_levels()[0][y0:y1, x0:x1])


def _write(store, box: PixelBox, probabilities: np.ndarray, mask: np.ndarray) -> None:
    """Write (C, h, w) ``probabilities`` and (h, w) ``mask`` into level 0 over ``box``."""
    y0, x0, y1, x1 = box
    store.probability_levels()[0][:, y0:y1, x0:x1] = probabilities
    store.mask_levels()[0][y0:y1, x0:x1] = mask


def _within(inner: PixelBox, outer: PixelBox) -> tuple[slice, slice]:
    """``inner``'s rows and columns in an array that covers ``outer``."""
    return (slice(inner[0] - outer[0], inner[2] - outer[0]),
            slice(inner[1] - outer[1], inner[3] - outer[1]))


def _paint(probabilities: np.ndarray, mask: np.ndarray, region: tuple[slice, slice],
           where: np.ndarray, labels: np.ndarray) -> None:
    """Set ``labels`` at ``where`` in ``region`` of (C, h, w) ``probabilities`` (one-hot) and
    (h, w) ``mask``, in place."""
    part = mask[region]
    part[where] = labels[where]
    for index in range(len(probabilities)):
        probabilities[index][region][where] = np.where(labels[where] == index,
                                                       PROBABILITY_MAX, 0)


__all__ = ["MAX_EDIT_PIXELS", "NOT_COMPUTED", "EditWindow", "check_labels", "model_probabilities",
           "read_window", "restore_model", "window_for_box", "write_labels"]
