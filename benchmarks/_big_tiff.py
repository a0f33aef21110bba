"""A huge JPEG-tiled pyramidal TIFF written fast from a few pre-encoded tiles.

The benchmarks need a 100,000² slide. Encoding every tile would take minutes, so
a handful of real tissue-like tiles are JPEG-encoded once and their bytes are
cycled through the grid; readers still decode every tile they touch.
"""

from __future__ import annotations

import itertools
import sys
from io import BytesIO
from pathlib import Path

import numpy as np
import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import tissue_like_rgb  # noqa: E402

TILE = 512
VARIANTS = 8


def encoded_tiles(tile: int = TILE, variants: int = VARIANTS) -> list[bytes]:
    """JPEG bytes of ``variants`` different tissue-like tiles, as tifffile encodes them."""
    tiles = []
    for seed in range(variants):
        image = tissue_like_rgb((tile, tile), seed=seed)
        buffer = BytesIO()
        tifffile.imwrite(buffer, image, tile=(tile, tile), compression="jpeg",
                         photometric="rgb")
        buffer.seek(0)
        with tifffile.TiffFile(buffer) as tif:
            page = tif.pages[0]
            buffer.seek(page.dataoffsets[0])
            tiles.append(buffer.read(page.databytecounts[0]))
    return tiles


def write_big_tiff(path: Path, side: int = 100_000, mpp: float = 0.25,
                   tile: int = TILE) -> Path:
    """Write a ``side``² RGB pyramid (halving to < 2 tiles) with SubIFDs."""
    if path.exists():
        return path
    tiles = encoded_tiles(tile)
    shapes = [side]
    while shapes[-1] > 2 * tile:
        shapes.append(shapes[-1] // 2)
    options = dict(tile=(tile, tile), compression="jpeg", photometric="rgb", dtype=np.uint8)
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for index, level_side in enumerate(shapes):
            count = (-(-level_side // tile)) ** 2
            level_mpp = mpp * side / level_side
            tif.write(itertools.islice(itertools.cycle(tiles), count),
                      shape=(level_side, level_side, 3), subifds=len(shapes) - 1 if index == 0 else None,
                      subfiletype=1 if index else 0,
                      resolution=(1e4 / level_mpp, 1e4 / level_mpp), resolutionunit="CENTIMETER",
                      **options)
    return path
