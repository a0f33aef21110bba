"""The CK5/6 edge pyramid in a slide's workspace: ``edges.zarr``, uint8 edge strength, whole or absent.

Level 0 lies on an H&E level grid (``downsample`` H&E level-0 px per edge px);
level k + 1 is the 2 x 2 mean of level k. The pyramid is written into a folder
beside ``edges.zarr`` and renamed into place when complete, so a crash leaves the
old pyramid or none, never half of one. zarr 3 arrays, chunked, Blosc lz4.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from napari_histoseg.io.errors import FileError

EDGES_NAME = "edges.zarr"
#: The fusion network's edge map (``inference.model_edges``), in the same format.
MODEL_EDGES_NAME = "edges_model.zarr"
CHUNK = 512
MIN_LEVEL_SIDE = 256
FORMAT = 1


class EdgeStoreError(FileError):
    """An edge pyramid that is missing or damaged."""


@dataclass(frozen=True)
class EdgePyramid:
    """An opened edge pyramid: ``levels`` (h, w) uint8 zarr arrays (255 = strongest edge) and
    ``meta`` (downsample, mpp (y, x) of level 0 in µm, method, registration matrix)."""

    path: Path
    levels: tuple
    meta: dict

    @property
    def scale(self) -> tuple[float, float]:
        """µm/px (y, x) of level 0, napari's ``scale``."""
        return tuple(self.meta["mpp"])

    @property
    def translate(self) -> tuple[float, float]:
        """µm offset (y, x) that centres an edge pixel over the H&E level-0 pixels it spans."""
        d, mpp = self.meta["downsample"], self.meta["slide_mpp"]
        return ((d - 1) / 2 * mpp[0], (d - 1) / 2 * mpp[1])


def pyramid_shapes(shape: tuple[int, int]) -> list[tuple[int, int]]:
    """(h, w) of each level: halving (rounding up) while the longer side exceeds MIN_LEVEL_SIDE."""
    shapes = [tuple(shape)]
    while max(shapes[-1]) > MIN_LEVEL_SIDE:
        shapes.append((-(-shapes[-1][0] // 2), -(-shapes[-1][1] // 2)))
    return shapes


def building_group(path: Path, shape: tuple[int, int], meta: dict) -> zarr.Group:
    """A new, empty pyramid in a temporary folder beside ``path``; finish it with ``publish``."""
    building = _building_path(path)
    shutil.rmtree(building, ignore_errors=True)
    group = zarr.open_group(building, mode="w")
    compressors = (BloscCodec(cname="lz4", clevel=1, shuffle="bitshuffle"),)
    for level, level_shape in enumerate(pyramid_shapes(shape)):
        group.create_array(str(level), shape=level_shape, dtype="uint8", fill_value=0,
                           chunks=(min(CHUNK, level_shape[0]), min(CHUNK, level_shape[1])),
                           compressors=compressors, dimension_names=("y", "x"))
    group.attrs["histoseg_edges"] = {"format": FORMAT, **meta}
    return group


def fill_coarser_levels(group: zarr.Group) -> None:
    """Level k + 1 = rounded 2 x 2 mean of level k, one chunk at a time."""
    level = 1
    while str(level) in group:
        source, target = group[str(level - 1)], group[str(level)]
        for y in range(0, target.shape[0], CHUNK):
            for x in range(0, target.shape[1], CHUNK):
                block = source[2 * y:2 * (y + CHUNK), 2 * x:2 * (x + CHUNK)].astype(np.uint16)
                block = np.pad(block, ((0, block.shape[0] % 2), (0, block.shape[1] % 2)), mode="edge")
                mean = (block[0::2, 0::2] + block[1::2, 0::2] + block[0::2, 1::2] + block[1::2, 1::2] + 2) // 4
                target[y:y + mean.shape[0], x:x + mean.shape[1]] = mean.astype(np.uint8)
        level += 1


def write_pyramid(path: Path, shape: tuple[int, int], meta: dict, tile: int,
                  compute: Callable[[int, int, tuple[int, int]], np.ndarray | None]
                  ) -> Generator[float, None, EdgePyramid]:
    """Build the pyramid at ``path`` tile by tile and publish it; yields the fraction done.

    ``compute(y, x, (h, w))`` returns the (h, w) uint8 level-0 block at (y, x), or None to
    leave it 0. A cancel or an error leaves no half-built pyramid behind.
    """
    group = building_group(path, shape, meta)
    try:
        target = group["0"]
        origins = [(y, x) for y in range(0, shape[0], tile) for x in range(0, shape[1], tile)]
        for index, (y, x) in enumerate(origins):
            size = (min(tile, shape[0] - y), min(tile, shape[1] - x))
            block = compute(y, x, size)
            if block is not None:
                target[y:y + size[0], x:x + size[1]] = block
            yield (index + 1) / (len(origins) + 1)
        fill_coarser_levels(group)
    except BaseException:
        discard_building(path)
        raise
    yield 1.0
    return publish(path)


def publish(path: Path) -> EdgePyramid:
    """Rename the finished pyramid into place (replacing an older one) and open it."""
    path = Path(path)
    retired = path.with_name(f"{path.name}.retired-{os.getpid()}")
    if path.exists():
        os.replace(path, retired)
    os.replace(_building_path(path), path)
    shutil.rmtree(retired, ignore_errors=True)
    return open_edges(path)


def open_edges(path: Path) -> EdgePyramid:
    """The pyramid at ``path``; EdgeStoreError naming it when absent or damaged."""
    path = Path(path)
    if not (path / "zarr.json").is_file():
        raise EdgeStoreError(path, "no CK5/6 edge map here; pair a CK5/6 slide and compute its edges")
    try:
        group = zarr.open_group(path, mode="r")
        meta = dict(group.attrs["histoseg_edges"])
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, this version reads {FORMAT}")
        levels = []
        while str(len(levels)) in group:
            levels.append(group[str(len(levels))])
    except Exception as err:  # noqa: BLE001 - any damage becomes one clear message
        raise EdgeStoreError(path, f"the edge map is damaged ({type(err).__name__}: {err}); "
                                   "compute it again") from err
    return EdgePyramid(path, tuple(levels), meta)


def discard_building(path: Path) -> None:
    """Remove an unfinished pyramid of ``path`` (after a cancel or a failure)."""
    shutil.rmtree(_building_path(path), ignore_errors=True)


def _building_path(path: Path) -> Path:
    return Path(path).with_name(f"{Path(path).name}.building-{os.getpid()}")
