"""Polygons -> label masks, tile by tile, and label pyramid TIFFs written atomically.

A mask pixel takes a polygon's label when its centre (see :class:`Sampling`) lies
strictly inside the polygon (holes excluded). Filling uses shapely's prepared
predicates on a quadtree of pixel blocks: a block inside the polygon is filled at
once, a block outside it is skipped, and only blocks on the boundary test their pixel
centres (``shapely.contains_xy``), so the cost follows the boundary, not the area.

Label 0 (background, CAMELYON's exclusion group) is drawn after every other label,
so exclusion polygons cut holes into the regions they lie in; otherwise a later
polygon is drawn over an earlier one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from napari_histoseg.io.annotations import Sampling
from napari_histoseg.io.atomic import atomic_writer

#: Blocks of at most this many pixels test every pixel centre.
LEAF_PIXELS = 1024
TIFF_TILE = 512

Shapes = Sequence[tuple[BaseGeometry, int]]


def rasterise(shapes: Shapes, sampling: Sampling, location: tuple[int, int],
              size: tuple[int, int], tree: shapely.STRtree | None = None) -> np.ndarray:
    """The (h, w) uint8 labels of mask pixels ``location`` (y, x) .. ``location + size``.

    Args:
        shapes: (polygon in level-0 px, label 0..255) pairs.
        tree: an STRtree over the geometries of ``shapes`` (built when not given).
    """
    out = np.zeros(size, dtype=np.uint8)
    if not shapes:
        return out
    tree = tree if tree is not None else shapely.STRtree([g for g, _ in shapes])
    ys, xs = sampling.centres(location[0], size[0]), sampling.centres(location[1], size[1])
    pad = sampling.spacing / 2
    hits = tree.query(shapely.box(xs[0] - pad, ys[0] - pad, xs[-1] + pad, ys[-1] + pad))
    for index in sorted(hits, key=lambda k: (shapes[k][1] == 0, k)):
        geometry, value = shapes[index]
        shapely.prepare(geometry)
        _fill(out, geometry, value, xs, ys, sampling.spacing / 4)
    return out


def _fill(out: np.ndarray, geometry: BaseGeometry, value: int, xs: np.ndarray,
          ys: np.ndarray, pad: float) -> None:
    """Set ``out`` to ``value`` where the centres (ys x xs) lie inside ``geometry``."""
    blocks = [(0, len(ys), 0, len(xs))]
    while blocks:
        r0, r1, c0, c1 = blocks.pop()
        cell = shapely.box(xs[c0] - pad, ys[r0] - pad, xs[c1 - 1] + pad, ys[r1 - 1] + pad)
        if not shapely.intersects(geometry, cell):
            continue
        if shapely.contains_properly(geometry, cell):
            out[r0:r1, c0:c1] = value
        elif (r1 - r0) * (c1 - c0) <= LEAF_PIXELS:
            inside = shapely.contains_xy(geometry, xs[None, c0:c1], ys[r0:r1, None])
            out[r0:r1, c0:c1][inside] = value
        else:
            rm, cm = (r0 + r1) // 2, (c0 + c1) // 2
            rows = [(r0, rm), (rm, r1)] if r1 - r0 > 1 else [(r0, r1)]
            cols = [(c0, cm), (cm, c1)] if c1 - c0 > 1 else [(c0, c1)]
            blocks += [(a, b, c, d) for a, b in rows for c, d in cols]


def write_label_pyramid(path: str | Path, shapes: Shapes, shape: tuple[int, int],
                        downsample: float, slide_mpp: tuple[float, float] | None = None,
                        tile: int = TIFF_TILE, metadata: dict | None = None) -> Path:
    """Rasterise ``shapes`` into a tiled, zlib-compressed uint8 label pyramid TIFF.

    Level 0 is ``shape`` (h, w) at ``downsample`` level-0 px per px; level ``k`` takes
    every ``2**k``-th pixel of level 0 (as the results pyramid does), halving until the
    longer side fits 256 px. Each level is rasterised from the polygons tile by tile, so
    memory holds one tile. The file appears at ``path`` only once complete. ``metadata``
    (JSON-ready) is kept in level 0's ImageDescription as ``{"histoseg_labels": metadata}``.
    :func:`napari_histoseg.io.labels.open_label_pyramid` reads it.
    """
    import tifffile

    from napari_histoseg.io.workspace import pyramid_shapes

    tree = shapely.STRtree([g for g, _ in shapes]) if shapes else None
    levels = pyramid_shapes(shape)
    description = json.dumps({"histoseg_labels": metadata or {}})
    with atomic_writer(path) as file, tifffile.TiffWriter(file, bigtiff=True) as tif:
        for level, level_shape in enumerate(levels):
            sampling = Sampling(downsample, 2**level)
            resolution = {}
            if slide_mpp is not None:
                um = (slide_mpp[0] * sampling.spacing, slide_mpp[1] * sampling.spacing)
                resolution = dict(resolution=(1e4 / um[0], 1e4 / um[1]),
                                  resolutionunit="CENTIMETER")
            tif.write(_tiles(shapes, sampling, level_shape, tile, tree), shape=level_shape,
                      dtype=np.uint8, tile=(tile, tile), compression="zlib",
                      photometric="minisblack", subifds=len(levels) - 1 if level == 0 else None,
                      subfiletype=1 if level else 0,
                      metadata=None, description=description if level == 0 else None,
                      **resolution)
    return Path(path)


def _tiles(shapes: Shapes, sampling: Sampling, shape: tuple[int, int], tile: int,
           tree: shapely.STRtree | None) -> Iterator[np.ndarray]:
    """(tile, tile) label tiles of a level in row-major order (edges padded with 0)."""
    for y in range(0, shape[0], tile):
        for x in range(0, shape[1], tile):
            size = (min(tile, shape[0] - y), min(tile, shape[1] - x))
            block = np.zeros((tile, tile), dtype=np.uint8)
            block[:size[0], :size[1]] = rasterise(shapes, sampling, (y, x), size, tree)
            yield block
