"""Structural checks of a TIFF slide before anything in it is trusted (tifffile pages).

A damaged or crafted file can declare sizes, tile grids, codecs or levels that would
make later reads fail deep inside tifffile or zarr, allocate absurd memory, or show
levels that do not line up. These checks refuse such a file at ``open_slide`` with a
``SlideError`` naming the file and the cause, so reads later only meet damaged tile
bytes (handled in ``io.tile_faults``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from napari_histoseg.io.errors import SlideError

#: Longest side a level may declare: 2^20 px (about 26 cm at 0.25 µm/px; real scans
#: reach about 200,000 px).
MAX_SIDE = 2**20
#: A single stored block larger than this cannot be read lazily.
MAX_CHUNK_BYTES = 512 * 2**20
#: How far a level's shape may stray from level 0's aspect ratio, in px and as a fraction.
LEVEL_SLACK_PX, LEVEL_SLACK = 4, 0.05


def check_series(series: tifffile.TiffPageSeries, path: Path) -> None:
    """Refuse a series with absurd sizes, a broken tile grid, an unknown codec,
    data past the end of the file, or levels that do not shrink consistently."""
    file_size = path.stat().st_size
    shapes = []
    for index, level in enumerate(series.levels):
        page = level.keyframe
        shape = _spatial_shape(level.shape, series.axes)
        _check_size(shape, index, path)
        _check_codec(page, index, path)
        _check_chunks(page, index, path)
        _check_data_in_file(page, shape, file_size, path)
        shapes.append(shape)
    check_level_shapes(shapes, path)


def _spatial_shape(shape: tuple[int, ...], axes: str) -> tuple[int, int]:
    return int(shape[axes.index("Y")]), int(shape[axes.index("X")])


def _check_size(shape: tuple[int, int], index: int, path: Path) -> None:
    height, width = shape
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE):
        raise SlideError(path, f"level {index} declares {width:,} × {height:,} px, outside "
                               f"1-{MAX_SIDE:,} px per side; the file is damaged or not a slide")


def _check_codec(page: tifffile.TiffPage, index: int, path: Path) -> None:
    compression = int(page.compression)
    if compression not in tifffile.TIFF.DECOMPRESSORS:
        name = getattr(page.compression, "name", str(compression))
        raise SlideError(path, f"level {index} uses compression {name} ({compression}), which "
                               "cannot be decoded here; convert the slide to JPEG-tiled TIFF "
                               "(or install imagecodecs with that codec)")


def _check_chunks(page: tifffile.TiffPage, index: int, path: Path) -> None:
    chunks = tuple(int(c) for c in page.chunks)
    if not chunks or min(chunks) < 1:
        raise SlideError(path, f"level {index} declares tiles of {chunks} px; "
                               "the file is damaged")
    chunk_bytes = int(np.prod(chunks, dtype=np.int64)) * page.dtype.itemsize
    if chunk_bytes > MAX_CHUNK_BYTES:
        raise SlideError(path, f"the image is stored as one block of "
                               f"{chunk_bytes / 2**30:.1f} GiB with no pyramid, so it "
                               "cannot be read tile by tile; convert it to a tiled "
                               "pyramidal TIFF")
    expected = int(np.prod(page.chunked, dtype=np.int64))
    if len(page.dataoffsets) != expected or len(page.databytecounts) != expected:
        raise SlideError(path, f"level {index} needs {expected:,} tiles but lists "
                               f"{len(page.dataoffsets):,} offsets and "
                               f"{len(page.databytecounts):,} sizes; the file is damaged")


def _check_data_in_file(page: tifffile.TiffPage, shape: tuple[int, int], file_size: int,
                        path: Path) -> None:
    """Fail now, not mid-run, when tile data points past the end of the file."""
    ends = [offset + count for offset, count in zip(page.dataoffsets, page.databytecounts)
            if offset]
    if ends and max(ends) > file_size:
        raise SlideError(path, f"the file is truncated: level {shape} needs "
                               f"{max(ends):,} bytes but the file has {file_size:,}; "
                               "copy or export the slide again")


def check_level_shapes(shapes: list[tuple[int, int]], path: Path) -> None:
    """Each level must be smaller than the one before, with level 0's aspect ratio.

    ``shapes``: (h, w) per level, largest first.
    """
    (h0, w0), previous = shapes[0], shapes[0]
    for index, (height, width) in enumerate(shapes[1:], start=1):
        expected_h = h0 * width / w0
        slack = max(LEVEL_SLACK_PX, LEVEL_SLACK * expected_h)
        shrinks = height <= previous[0] and width <= previous[1]
        if not shrinks or abs(height - expected_h) > slack:
            raise SlideError(path, f"level {index} is {width:,} × {height:,} px, which does not "
                                   f"fit a pyramid whose level {index - 1} is {previous[1]:,} × "
                                   f"{previous[0]:,} and level 0 {w0:,} × {h0:,} px; the levels "
                                   "are inconsistent (a damaged or hand-edited file)")
        previous = (height, width)
