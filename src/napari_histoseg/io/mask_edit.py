"""Mask edits in a ResultStore: the window under a view, writing labels, the model's pixels.

An edit works on a window of mask level 0 (the analysis grid, ``downsample``
level-0 slide px per px). Writing it keeps the store's invariant that every
level's mask is the argmax of that level's probabilities:

* level 0: each changed pixel gets the edited label, and its probabilities
  become one-hot (the annotator's word is certain), so ``labels_of`` of the
  probabilities is the edited mask;
* overviews: rebuilt above the changed box by :func:`.pyramid.rebuild_overviews`,
  the same 2 x 2 reduction the tile writer uses.

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
from napari_histoseg.io.blend import NOT_COMPUTED, blend_block, block_box, labels_of
from napari_histoseg.io.pyramid import PixelBox, rebuild_overviews
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
                 changed: np.ndarray) -> PixelBox | None:
    """Write ``labels`` (h, w) where ``changed`` into level 0, one-hot, and rebuild overviews.

    Only the bounding box of the changed pixels is read and written. Returns that
    box in level-0 result px, or None when nothing changed.
    """
    found = _bounding_box(changed)
    if found is None:
        return None
    a, b, c, e = found
    y0, x0 = window.location
    box = (y0 + a, x0 + b, y0 + c, x0 + e)
    rows, cols = slice(box[0], box[2]), slice(box[1], box[3])
    probabilities = np.asarray(store.probability_levels()[0][:, rows, cols])
    mask = np.asarray(store.mask_levels()[0][rows, cols]).copy()
    where, new = changed[a:c, b:e], labels[a:c, b:e]
    for index in range(len(probabilities)):
        probabilities[index][where] = (new[where] == index)
    mask[where] = new[where]
    store.probability_levels()[0][:, rows, cols] = probabilities
    store.mask_levels()[0][rows, cols] = mask
    rebuild_overviews(store, box)
    return box


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
    y0, x0, y1, x1 = box
    probabilities = model_probabilities(store, box)
    for window, labels, changed in overlays:
        wy0, wx0, wy1, wx1 = window.box
        ya, yb, xa, xb = max(wy0, y0), min(wy1, y1), max(wx0, x0), min(wx1, x1)
        if ya >= yb or xa >= xb:
            continue
        where = changed[ya - wy0:yb - wy0, xa - wx0:xb - wx0]
        new = labels[ya - wy0:yb - wy0, xa - wx0:xb - wx0]
        for index in range(len(probabilities)):
            probabilities[index, ya - y0:yb - y0, xa - x0:xb - x0][where] = (new[where] == index)
    store.probability_levels()[0][:, y0:y1, x0:x1] = probabilities.astype(np.float16)
    store.mask_levels()[0][y0:y1, x0:x1] = labels_of(probabilities)
    rebuild_overviews(store, box)


def _bounding_box(changed: np.ndarray) -> PixelBox | None:
    """``y0, x0, y1, x1`` of the True pixels of (h, w) ``changed``, or None."""
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    if not rows.size:
        return None
    return (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


__all__ = ["MAX_EDIT_PIXELS", "NOT_COMPUTED", "EditWindow", "check_labels", "model_probabilities",
           "read_window", "restore_model", "window_for_box", "write_labels"]
