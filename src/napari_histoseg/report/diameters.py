"""The longest diameter of a lesion: its maximum Feret diameter, from the convex hull (scipy).

A mask pixel is a sample at its centre; a lesion's edge lies half a pixel beyond its
outermost tumour pixel centres. So the longest diameter is the maximum Feret diameter of
the convex hull of its pixel centres, widened by one pixel: the hull grown by a pixel-sized
disc (an ellipse of axes ``mpp`` (y, x) when pixels are not square), whose width along a
direction ``u`` is ``sqrt((mpp_y u_y)² + (mpp_x u_x)²)``. A single pixel measures one pixel,
a one-pixel-wide line of ``n`` pixels exactly ``n`` pixels, and a rasterised disc of radius
``r`` its diameter ``2 r`` within one pixel (the union of pixel squares would add up to √2
pixels along the diagonals).

Only the centres of each row's two extreme pixels can be hull vertices
(:func:`row_extreme_centres`); :func:`hull_points` reduces them to the hull's vertices
(``scipy.spatial.ConvexHull``), and :func:`max_feret_um` takes the largest widened distance
over vertex pairs (``scipy.spatial.distance.pdist``), in µm.

>>> import numpy as np
>>> line = np.ones((1, 200), bool)
>>> float(max_feret_um(row_extreme_centres(line), (1.0, 1.0)))
200.0
"""

from __future__ import annotations

import numpy as np


def row_extreme_centres(region: np.ndarray, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """(n, 2) float64 centres (y, x), in px, of each row's first and last pixel of ``region``.

    Args:
        region: (h, w) bool; True marks the lesion's pixels.
        origin: (y, x) of ``region[0, 0]`` in the coordinates wanted.
    """
    rows = np.flatnonzero(region.any(axis=1))
    if rows.size == 0:
        return np.empty((0, 2))
    picked = region[rows]
    first = picked.argmax(axis=1)
    last = picked.shape[1] - 1 - picked[:, ::-1].argmax(axis=1)
    y = rows + 0.5 + origin[0]
    return np.concatenate([np.stack([y, first + 0.5 + origin[1]], 1),
                           np.stack([y, last + 0.5 + origin[1]], 1)])


def hull_points(points: np.ndarray) -> np.ndarray:
    """The vertices of the convex hull of (n, 2) ``points`` (the two ends when collinear)."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 4:
        return points
    from scipy.spatial import ConvexHull, QhullError

    try:
        return points[ConvexHull(points).vertices]
    except QhullError:  # all on one line: its two ends carry the diameter
        order = np.lexsort((points[:, 1], points[:, 0]))
        return points[[order[0], order[-1]]]


def max_feret_um(centres: np.ndarray, mpp: tuple[float, float]) -> float:
    """Longest diameter in µm of a lesion given by (n, 2) pixel ``centres`` (y, x) in px.

    Args:
        centres: pixel centres in px, e.g. from :func:`row_extreme_centres`.
        mpp: µm per pixel (y, x).
    """
    if len(centres) == 0:
        return 0.0
    scale = np.asarray(mpp, dtype=np.float64)
    vertices = np.unique(hull_points(np.asarray(centres, dtype=np.float64)), axis=0) * scale
    if len(vertices) < 2:
        return float(np.sqrt(scale[0] * scale[1]))  # one pixel: its mean side
    i, j = np.triu_indices(len(vertices), k=1)
    delta = vertices[j] - vertices[i]
    length = np.hypot(delta[:, 0], delta[:, 1])
    unit = delta / length[:, None]
    pixel_width = np.hypot(unit[:, 0] * scale[0], unit[:, 1] * scale[1])
    return float((length + pixel_width).max())
