"""Connected lesions of a mask read block by block, never whole (scipy.ndimage, scipy.sparse).

A lesion is a set of tumour pixels (any class id other than background) connected through
edges or corners (8-connectivity). The mask is fed to :class:`LesionScanner` one block at a
time, in raster order: bands of equal height from top to bottom, each band's blocks from
left to right. Each block is labelled on its own (``scipy.ndimage.label``); labels that touch
across a block seam (including diagonally) are recorded as equivalent, and at the end the
equivalences are resolved as the connected components of a sparse graph
(``scipy.sparse.csgraph.connected_components``). Memory holds one block, one row of labels
across the mask, and a few numbers per label, whatever the mask's size.

Per lesion it keeps the pixel count of each class, the centroid, the bounding box, and the
pixel centres that carry its convex hull (see :mod:`.diameters`), so the longest diameter
is measured on the mask's own pixels, however the lesion is cut by blocks.

>>> import numpy as np
>>> mask = np.zeros((6, 8), np.uint8); mask[1:3, 1:7] = 1
>>> scanner = LesionScanner(width=8, n_classes=2)
>>> for x in (0, 4):                       # two blocks of one band, the lesion crosses the seam
...     scanner.add((0, x), mask[:, x:x + 4])
>>> [(int(l.pixels), l.box) for l in scanner.finish()]
[(12, (1, 1, 3, 7))]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_histoseg.report.diameters import hull_points, row_extreme_centres

#: 8-connectivity: pixels touching at a corner belong to one lesion.
CONNECTIVITY = np.ones((3, 3), dtype=bool)
#: Centre lists longer than this are reduced to their convex hull as they are collected.
MAX_CENTRES = 64


@dataclass(frozen=True)
class LesionPixels:
    """One connected lesion, in mask pixels.

    Attributes:
        class_pixels: (n_classes,) pixel count per class id (0 for non-tumour classes).
        centroid: (y, x) mean of its pixel centres.
        box: (y0, x0, y1, x1) bounding box, end exclusive.
        centres: (n, 2) pixel centres (y, x) whose convex hull is the lesion's centres' hull.
    """

    class_pixels: np.ndarray
    centroid: tuple[float, float]
    box: tuple[int, int, int, int]
    centres: np.ndarray

    @property
    def pixels(self) -> int:
        return int(self.class_pixels.sum())


class LesionScanner:
    """Collects lesions from mask blocks fed in raster order (see the module docstring).

    Args:
        width: the mask's width in px (every band must cover it).
        n_classes: number of class ids; ids 1.. count as tumour.
    """

    def __init__(self, width: int, n_classes: int):
        self.width, self.n_classes = int(width), int(n_classes)
        self._count = 0
        self._pixels: list[np.ndarray] = []
        self._sums: list[np.ndarray] = []
        self._boxes: list[np.ndarray] = []
        self._centres: list[np.ndarray] = []
        self._pairs: list[np.ndarray] = []
        self._previous_bottom: np.ndarray | None = None
        self._band: tuple[int, int] | None = None  # (y, height) of the band being fed
        self._next_x = 0
        self._top = self._bottom = self._right = np.zeros(0, dtype=np.int64)

    def add(self, location: tuple[int, int], classes: np.ndarray) -> None:
        """Feed the (h, w) uint8 class ids of the block at ``location`` (y, x).

        Pixels with an id of 0 or of at least ``n_classes`` (e.g. not computed) are no lesion.
        """
        y, x = int(location[0]), int(location[1])
        h, w = classes.shape
        self._enter_band(y, x, h, w)
        tumour = (classes > 0) & (classes < self.n_classes)
        if not tumour.any():  # most of a slide: nothing to label, nothing to join
            self._top[x:x + w] = self._bottom[x:x + w] = 0
            self._right, self._next_x = np.zeros(h, dtype=np.int64), x + w
            return
        labels, n = _label(tumour)
        edges = [labels[0], labels[-1], labels[:, 0], labels[:, -1]]
        top, bottom, left, right = (np.where(e > 0, e + self._count, 0).astype(np.int64)
                                    for e in edges)
        if x > 0:
            self._pairs.append(_touching(self._right, left))
        self._top[x:x + w], self._bottom[x:x + w] = top, bottom
        self._right, self._next_x = right, x + w
        self._collect(labels, n, classes, (y, x))
        self._count += n

    def finish(self) -> list[LesionPixels]:
        """The lesions found, largest first (ties: top-left first)."""
        self._close_band()
        if self._count == 0:
            return []
        component = _components(self._count, self._pairs)
        k = int(component.max()) + 1
        pixels = np.zeros((k, self.n_classes), dtype=np.int64)
        np.add.at(pixels, component, np.concatenate(self._pixels))
        sums = np.zeros((k, 2))
        np.add.at(sums, component, np.concatenate(self._sums))
        boxes = np.concatenate(self._boxes)
        low = np.full((k, 2), np.iinfo(np.int64).max)
        high = np.full((k, 2), np.iinfo(np.int64).min)
        np.minimum.at(low, component, boxes[:, :2])
        np.maximum.at(high, component, boxes[:, 2:])
        members = np.split(np.argsort(component, kind="stable"),
                           np.cumsum(np.bincount(component))[:-1])
        lesions = []
        for lesion, labels in enumerate(members):
            count = pixels[lesion].sum()
            centres = np.concatenate([self._centres[i] for i in labels])
            lesions.append(LesionPixels(
                class_pixels=pixels[lesion], box=(*map(int, low[lesion]), *map(int, high[lesion])),
                centroid=(float(sums[lesion, 0] / count + 0.5),
                          float(sums[lesion, 1] / count + 0.5)),
                centres=hull_points(centres) if len(labels) > 1 else centres))
        return sorted(lesions, key=lambda les: (-les.pixels, les.box[:2]))

    def _enter_band(self, y: int, x: int, h: int, w: int) -> None:
        """Start a new band at x == 0; check the raster order otherwise."""
        if x == 0:
            self._close_band()
            self._band = (y, h)
            self._top = np.zeros(self.width, dtype=np.int64)
            self._bottom = np.zeros(self.width, dtype=np.int64)
        elif self._band is None or self._band != (y, h) or x != self._next_x:
            raise ValueError(f"blocks must come in raster order with equal heights per band; "
                             f"got a ({h}, {w}) block at ({y}, {x}) after band {self._band}, "
                             f"next x {self._next_x}")
        if x + w > self.width:
            raise ValueError(f"block at x {x} of width {w} reaches past the mask's {self.width} px")

    def _close_band(self) -> None:
        """Join the finished band to the one above; its bottom row becomes the next seam."""
        if self._band is None:
            return
        if self._next_x != self.width:
            raise ValueError(f"the band at y {self._band[0]} covers {self._next_x} of "
                             f"{self.width} px")
        if self._previous_bottom is not None:
            self._pairs.append(_touching(self._previous_bottom, self._top))
        self._previous_bottom, self._band = self._bottom, None

    def _collect(self, labels: np.ndarray, n: int, classes: np.ndarray,
                 origin: tuple[int, int]) -> None:
        """Per label of one block: class counts, coordinate sums, box, hull centres.

        Each label is measured inside its own bounding box, so a block costs the
        labelling plus the boxes' pixels, not a pass over the block per statistic.
        """
        from scipy import ndimage

        pixels = np.zeros((n, self.n_classes), dtype=np.int64)
        sums, boxes = np.zeros((n, 2)), np.empty((n, 4), dtype=np.int64)
        for index, (rows, cols) in enumerate(ndimage.find_objects(labels)):
            region = labels[rows, cols] == index + 1
            y0, x0 = origin[0] + rows.start, origin[1] + cols.start
            boxes[index] = (y0, x0, origin[0] + rows.stop, origin[1] + cols.stop)
            pixels[index] = np.bincount(classes[rows, cols][region], minlength=self.n_classes)[
                :self.n_classes]
            per_row, per_col = region.sum(axis=1), region.sum(axis=0)
            sums[index] = (per_row @ np.arange(y0, y0 + len(per_row)),
                           per_col @ np.arange(x0, x0 + len(per_col)))
            centres = row_extreme_centres(region, (y0, x0))
            self._centres.append(hull_points(centres) if len(centres) > MAX_CENTRES else centres)
        self._pixels.append(pixels)
        self._sums.append(sums)
        self._boxes.append(boxes)


def _label(tumour: np.ndarray) -> tuple[np.ndarray, int]:
    from scipy import ndimage

    labels, n = ndimage.label(tumour, structure=CONNECTIVITY)
    return labels, int(n)


def _touching(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(k, 2) label pairs of two facing pixel lines that touch at an edge or a corner."""
    pairs = []
    n = len(a)
    for shift in (-1, 0, 1):
        lo, hi = max(0, -shift), n - max(0, shift)
        left, right = a[lo:hi], b[lo + shift:hi + shift]
        keep = (left > 0) & (right > 0)
        pairs.append(np.stack([left[keep], right[keep]], axis=1))
    return np.unique(np.concatenate(pairs), axis=0)


def _components(count: int, pairs: list[np.ndarray]) -> np.ndarray:
    """(count,) component id of each label 1..count, given touching label pairs."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0] - 1, edges[:, 1] - 1)),
                       shape=(count, count))
    return connected_components(graph, directed=False)[1]
