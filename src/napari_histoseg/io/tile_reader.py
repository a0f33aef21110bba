"""Direct reads of tiled TIFF levels: fetch and decode only the tiles a region touches.

This is the fast path behind ``Slide.read_region`` for tiled, interleaved-RGB
levels. It skips zarr's per-chunk machinery, which costs more than decoding
a small JPEG tile.

Thread safety: napari's display reads go through dask and tifffile's zarr
store, which seek and read tifffile's shared file handle under tifffile's own
lock. The fast path never touches that handle's position: it reads with
``os.pread`` on a private file descriptor (no shared position at all), or,
where ``os.pread`` does not exist (Windows), under tifffile's lock, the same
lock the display reads take.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import numpy as np
import tifffile

from napari_histoseg.io.errors import CorruptTileError, SlideError

BACKGROUND = 255


class PositionalFile:
    """A private read-only descriptor read with ``os.pread``: safe from any thread."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self._finalizer = weakref.finalize(self, os.close, self._fd)

    def read(self, offset: int, count: int) -> bytes:
        """``count`` bytes at ``offset``; short only at the end of the file."""
        parts, done = [], 0
        while done < count:
            part = os.pread(self._fd, count - done, offset + done)
            if not part:
                break
            parts.append(part)
            done += len(part)
        return b"".join(parts) if len(parts) != 1 else parts[0]

    def close(self) -> None:
        self._finalizer()


class SharedHandleFile:
    """tifffile's own file handle, read under tifffile's own lock (where no pread exists)."""

    def __init__(self, handle: tifffile.FileHandle):
        handle.set_lock(True)  # the RLock tifffile's zarr store also takes
        self._handle = handle

    def read(self, offset: int, count: int) -> bytes:
        with self._handle.lock:
            self._handle.seek(offset)
            return self._handle.read(count)

    def close(self) -> None:
        """Nothing to do: tifffile owns the handle."""


def private_file(tif: tifffile.TiffFile) -> PositionalFile | SharedHandleFile:
    """The safest byte source for ``tif`` (opened from a path) on this platform."""
    if hasattr(os, "pread"):
        return PositionalFile(tif.filehandle.path)
    return SharedHandleFile(tif.filehandle)


class TiledLevelReader:
    """Reads ``[rows, cols]`` of one tiled TIFF level as a ``(h, w, 3)`` uint8 array.

    Safe to call from several threads at once, beside dask reads of the same file.

    >>> reader = TiledLevelReader.for_page(series.levels[0].keyframe)   # doctest: +SKIP
    >>> reader(slice(0, 512), slice(0, 512)).shape                       # doctest: +SKIP
    (512, 512, 3)
    """

    def __init__(self, page: tifffile.TiffPage, source: PositionalFile | SharedHandleFile):
        self._page = page
        self._source = source
        self._decode = page.decode
        self._tile_h, self._tile_w = page.chunks[:2]
        self._tiles_across = -(-page.imagewidth // self._tile_w)
        self._decode_args = {"_fullsize": True}
        if page.jpegtables is not None:
            self._decode_args["jpegtables"] = page.jpegtables

    @classmethod
    def for_page(cls, page: tifffile.TiffPage,
                 source: PositionalFile | SharedHandleFile | None = None
                 ) -> TiledLevelReader | None:
        """A reader for ``page``, or None when its layout needs the general path.

        ``source`` may be shared by the readers of every level of one file.
        """
        tiled_rgb = (page.is_tiled and page.planarconfig == 1 and page.samplesperpixel >= 3
                     and page.imagedepth == 1 and page.dtype == np.uint8)
        return cls(page, source or private_file(page.parent)) if tiled_rgb else None

    def __call__(self, rows: slice, cols: slice) -> np.ndarray:
        out = np.empty((rows.stop - rows.start, cols.stop - cols.start, 3), np.uint8)
        for tile_y in range(rows.start // self._tile_h, (rows.stop - 1) // self._tile_h + 1):
            for tile_x in range(cols.start // self._tile_w, (cols.stop - 1) // self._tile_w + 1):
                self._paste(out, rows, cols, tile_y, tile_x)
        return out

    def _paste(self, out: np.ndarray, rows: slice, cols: slice, tile_y: int, tile_x: int) -> None:
        tile = self._tile(tile_y * self._tiles_across + tile_x)
        y0, x0 = tile_y * self._tile_h, tile_x * self._tile_w
        top, left = max(rows.start, y0), max(cols.start, x0)
        bottom, right = min(rows.stop, y0 + self._tile_h), min(cols.stop, x0 + self._tile_w)
        out[top - rows.start:bottom - rows.start, left - cols.start:right - cols.start] = (
            tile[top - y0:bottom - y0, left - x0:right - x0, :3])

    def _tile(self, index: int) -> np.ndarray:
        """The decoded ``(tile_h, tile_w, samples)`` tile; white where none is stored.

        Raises:
            CorruptTileError: the tile's bytes cannot be read or decoded.
        """
        offset, count = self._page.dataoffsets[index], self._page.databytecounts[index]
        if not offset or not count:
            return np.full((self._tile_h, self._tile_w, 3), BACKGROUND, np.uint8)
        try:
            data = self._source.read(offset, count)
            decoded = self._decode(data, index, **self._decode_args)[0]
            return decoded.reshape(self._tile_h, self._tile_w, -1)
        except SlideError:
            raise
        except Exception as err:  # noqa: BLE001 - codecs raise many types on damaged bytes
            row, col = divmod(index, self._tiles_across)
            raise CorruptTileError(
                self._page.parent.filehandle.path,
                f"the tile at rows {row * self._tile_h}-{(row + 1) * self._tile_h}, cols "
                f"{col * self._tile_w}-{(col + 1) * self._tile_w} of the "
                f"{self._page.imagewidth:,} × {self._page.imagelength:,} px level cannot be "
                f"decoded ({type(err).__name__}: {str(err)[:120]})") from err
