"""Direct reads of tiled TIFF levels: fetch and decode only the tiles a region touches.

This is the fast path behind ``Slide.read_region`` for tiled, interleaved-RGB
levels. It skips zarr's per-chunk machinery, which costs more than decoding
a small JPEG tile, and reads the file under a lock so that threads can share it.
"""

from __future__ import annotations

import threading

import numpy as np
import tifffile

BACKGROUND = 255


class TiledLevelReader:
    """Reads ``[rows, cols]`` of one tiled TIFF level as a ``(h, w, 3)`` uint8 array.

    >>> reader = TiledLevelReader.for_page(series.levels[0].keyframe)   # doctest: +SKIP
    >>> reader(slice(0, 512), slice(0, 512)).shape                       # doctest: +SKIP
    (512, 512, 3)
    """

    def __init__(self, page: tifffile.TiffPage, lock: threading.Lock):
        self._page = page
        self._file = page.parent.filehandle
        self._lock = lock
        self._decode = page.decode
        self._tile_h, self._tile_w = page.chunks[:2]
        self._tiles_across = -(-page.imagewidth // self._tile_w)
        self._decode_args = {"_fullsize": True}
        if page.jpegtables is not None:
            self._decode_args["jpegtables"] = page.jpegtables

    @classmethod
    def for_page(cls, page: tifffile.TiffPage, lock: threading.Lock | None = None
                 ) -> TiledLevelReader | None:
        """A reader for ``page``, or None when its layout needs the general path."""
        tiled_rgb = (page.is_tiled and page.planarconfig == 1 and page.samplesperpixel >= 3
                     and page.imagedepth == 1 and page.dtype == np.uint8)
        return cls(page, lock or threading.Lock()) if tiled_rgb else None

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
        """The decoded ``(tile_h, tile_w, samples)`` tile; white where none is stored."""
        offset, count = self._page.dataoffsets[index], self._page.databytecounts[index]
        if not offset or not count:
            return np.full((self._tile_h, self._tile_w, 3), BACKGROUND, np.uint8)
        with self._lock:
            self._file.seek(offset)
            data = self._file.read(count)
        decoded = self._decode(data, index, **self._decode_args)[0]
        return decoded.reshape(self._tile_h, self._tile_w, -1)
