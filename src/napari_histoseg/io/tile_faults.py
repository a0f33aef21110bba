"""Unreadable tiles inside a readable slide: blank for display, an error for analysis.

A slide whose structure is sound can still hold a tile whose bytes are damaged (a
corrupt JPEG, a short strip). The two read paths treat it differently:

- napari's display reads (the dask levels) get a white tile, and the slide gives one
  ``CorruptTileWarning`` naming the file and the first damaged place; later damaged
  tiles are recorded silently (``TileFaults.places``).
- ``Slide.read_region`` (the engine's path) raises ``CorruptTileError`` so that
  segmentation can skip the tile and record it instead of predicting on white.

Any exception a codec, tifffile, zarr or openslide raises while reading is turned into
one of these; only ``SlideError`` ever leaves the slide.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from napari_histoseg.io.errors import CorruptTileError, SlideError

BACKGROUND = 255
RegionReader = Callable[[slice, slice], np.ndarray]


class CorruptTileWarning(UserWarning):
    """Part of a slide could not be decoded and is shown blank."""


class TileFaults:
    """The damaged places found in one slide; warns once, on the first."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.places: list[str] = []
        self._lock = threading.Lock()

    def report(self, place: str, err: BaseException) -> None:
        """Record a damaged ``place`` (e.g. "level 0, rows 0-64, cols 64-128")."""
        with self._lock:
            first = not self.places
            self.places.append(place)
        if first:
            warnings.warn(f"{self.path}: {place} cannot be decoded ({_cause(err)}); shown "
                          "blank. The rest of the slide is unaffected; segmentation skips "
                          "the damaged tiles.", CorruptTileWarning, stacklevel=2)


def _cause(err: BaseException) -> str:
    text = str(err).splitlines()[0][:160] if str(err) else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _span(key: tuple) -> str:
    parts = []
    for name, index in zip(("rows", "cols"), key):
        if isinstance(index, slice):
            parts.append(f"{name} {index.start}-{index.stop}")
    return ", ".join(parts) or "a tile"


class GuardedLevel:
    """An array-like over one stored level whose reads never raise: damage reads white.

    Give it to ``dask.array.from_array`` with the stored chunks. ``array`` is anything
    indexable with (y, x[, c]) slices (a zarr array over tifffile's store).
    """

    def __init__(self, array, level: int, faults: TileFaults):
        self._array, self._level, self._faults = array, level, faults
        self.shape, self.dtype, self.ndim = tuple(array.shape), np.dtype(array.dtype), array.ndim
        self.chunks = tuple(int(c) for c in array.chunks)

    def __getitem__(self, key):
        try:
            return np.asarray(self._array[key])
        except Exception as err:  # noqa: BLE001 - any codec or store error means damage
            key = key if isinstance(key, tuple) else (key,)
            self._faults.report(f"level {self._level}, {_span(key)}", err)
            shape = _result_shape(key, self.shape)
            return np.full(shape, BACKGROUND, dtype=self.dtype)


def _result_shape(key: tuple, shape: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    for axis, length in enumerate(shape):
        index = key[axis] if axis < len(key) else slice(None)
        if isinstance(index, slice):
            out.append(len(range(*index.indices(length))))
        elif not isinstance(index, (int, np.integer)):
            out.append(len(np.arange(length)[index]))
    return tuple(out)


def guarded_reader(read: RegionReader, path: Path, level: int) -> RegionReader:
    """``read`` whose failures become ``CorruptTileError`` naming the file, level and region."""

    def guarded(rows: slice, cols: slice) -> np.ndarray:
        try:
            return read(rows, cols)
        except SlideError:
            raise
        except Exception as err:  # noqa: BLE001 - any codec or store error means damage
            raise CorruptTileError(path, f"level {level}, rows {rows.start}-{rows.stop}, "
                                         f"cols {cols.start}-{cols.stop} cannot be decoded "
                                         f"({_cause(err)})") from err

    return guarded
