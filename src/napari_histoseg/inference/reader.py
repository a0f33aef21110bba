"""Reading tiles for inference: the analysis resolution, and a prefetching reader.

The analysis grid sits at a chosen pyramid ``level`` or at a target ``mpp``.
Tiles are read from the finest stored level that is not coarser than the
grid, so a grid between two levels reads slightly larger tiles which the
engine resizes on the device. A background thread reads the next batches
while the model runs on the current one; at most ``depth`` batches wait in
memory, so memory stays bounded whatever the slide size.
"""

from __future__ import annotations

import math
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from napari_histoseg.geometry import TileGrid
from napari_histoseg.inference.tiling import TileQueue
from napari_histoseg.io.errors import CorruptTileError, SlideError
from napari_histoseg.io.mpp import check_mpp
from napari_histoseg.stain import apply_lut

#: Level-0 µm/px assumed for slides that do not state it (a 40x scan).
DEFAULT_SLIDE_MPP = 0.25


@dataclass(frozen=True)
class Resolution:
    """Where the analysis grid lies on a slide.

    Attributes:
        shape: (h, w) of the analysis image in grid px.
        downsample: level-0 px per grid px.
        read_level: the pyramid level tiles are read from.
        slide_mpp: level-0 µm/px (y, x) used (stated by the file, given, or assumed).
        notice: a warning for the user (e.g. an assumed mpp), or "".
    """

    shape: tuple[int, int]
    downsample: float
    read_level: int
    slide_mpp: tuple[float, float]
    notice: str = ""


def choose_resolution(slide, level: int | None = None, mpp: float | None = None,
                      slide_mpp: float | tuple[float, float] | None = None) -> Resolution:
    """The analysis grid for ``level`` or ``mpp`` (µm/px); level 0 when neither is given.

    Args:
        slide_mpp: level-0 µm/px, one value or (y, x), to use when the file states
            none (or to override it). Validated by ``io.mpp.check_mpp``.

    Raises:
        MppError: ``mpp`` or ``slide_mpp`` is not a finite, plausible µm/px.

    A grid finer than the slide's level 0 is not possible: a model trained at a
    finer µm/px than the slide runs at level 0, and the notice says so.
    """
    if level is not None and mpp is not None:
        raise ValueError("give a level or an mpp, not both")
    stated, notices = _slide_mpp(slide, slide_mpp)
    if mpp is not None:
        target = check_mpp(mpp, "the analysis resolution (--mpp)")[0]
        downsample = target / math.sqrt(stated[0] * stated[1])  # anisotropic: geometric mean
        if downsample < 0.99:  # within 1% is the same resolution, rounded differently
            notices.append(
                f"The model works at {target:g} µm/px, finer than the slide's "
                f"{stated[1]:g} × {stated[0]:g} µm/px (x × y); segmenting at the slide's own "
                f"resolution, where tissue looks {1 / downsample:.2g}x smaller than in training.")
        downsample = max(downsample, 1.0)
    elif level is not None:
        if not 0 <= level < len(slide.levels):
            raise SlideError(slide.path, f"level {level} does not exist (the slide has "
                                         f"levels 0-{len(slide.levels) - 1})")
        downsample = float(slide.downsamples[level])
    else:
        downsample = 1.0
    h0, w0 = slide.level_shapes[0]
    shape = (max(int(round(h0 / downsample)), 1), max(int(round(w0 / downsample)), 1))
    if level is not None:
        shape = slide.level_shapes[level]
    read_level = level if level is not None else slide.best_level_for_downsample(downsample)
    return Resolution(shape=shape, downsample=downsample, read_level=read_level,
                      slide_mpp=stated, notice=" ".join(notices))


def _slide_mpp(slide, given) -> tuple[tuple[float, float], list[str]]:
    """Level-0 (y, x) µm/px: given, else the file's, else assumed (with a loud notice)."""
    if given is not None:
        return check_mpp(given, "the slide µm/px given (--slide-mpp)"), []
    if slide.mpp is not None:
        return (float(slide.mpp[0]), float(slide.mpp[1])), []
    reading = getattr(slide, "mpp_reading", None)
    what = (f"the file's µm per pixel is not usable ({reading.problem})"
            if reading is not None and reading.problem else "the file states no µm per pixel")
    return (DEFAULT_SLIDE_MPP, DEFAULT_SLIDE_MPP), [
        f"{slide.path.name}: {what}; assuming {DEFAULT_SLIDE_MPP} µm/px (a 40x scan). "
        "Pass --slide-mpp to set it."]


class TileReader:
    """Reads grid tiles from a slide as (B, R, R, 3) uint8, R = tile_size x read scale.

    With ``colour_lut`` (``stain.colour_lut``) the tiles are stain-normalised as read.
    With ``threads`` > 1 the tiles of a batch are read in parallel (slide reads are
    thread-safe and decoding releases the GIL), so a GPU is not left waiting for
    one CPU thread's JPEG decoding; ``close()`` ends those threads.
    """

    def __init__(self, slide, grid: TileGrid, read_level: int,
                 colour_lut: np.ndarray | None = None, threads: int = 1):
        self.slide = slide
        self.colour_lut = colour_lut
        self.grid = grid
        self.read_level = read_level
        self.scale = grid.downsample / slide.downsamples[read_level]
        if abs(self.scale - 1) < 1e-3:
            self.scale = 1.0
        self.read_size = int(round(grid.tile_size * self.scale))
        self._pool = (ThreadPoolExecutor(threads, thread_name_prefix="histoseg-read")
                      if threads > 1 else None)

    def read(self, indices: np.ndarray) -> np.ndarray:
        """Windows of flat tile ``indices``; pixels outside the slide are white.

        Raises:
            CorruptTileError: a window covers a tile of the slide that cannot be decoded.
        """
        kept, pixels, skipped = self.read_skipping(indices)
        if skipped:
            raise skipped[0][1]
        return pixels

    def read_skipping(self, indices: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, CorruptTileError]]]:
        """Like ``read``, but windows over damaged slide tiles are left out.

        Returns the kept indices (K,), their pixels (K, R, R, channels) and, per skipped
        index, the error that names the damaged place.
        """
        channels = getattr(self.slide, "channels", 3)   # 6 for a registered H&E + CK5/6 pair
        out = np.empty((len(indices), self.read_size, self.read_size, channels), dtype=np.uint8)
        errors: list[CorruptTileError | None] = [None] * len(indices)

        def read_one(i: int) -> None:
            (y, x), _ = self.grid.window(*divmod(int(indices[i]), self.grid.grid_shape[1]))
            location = (int(round(y * self.scale)), int(round(x * self.scale)))
            try:
                out[i] = self.slide.read_region(self.read_level, location,
                                                (self.read_size, self.read_size))
            except CorruptTileError as err:
                errors[i] = err

        if self._pool is None:
            for i in range(len(indices)):
                read_one(i)
        else:
            list(self._pool.map(read_one, range(len(indices))))  # raises a read's other errors
        good = np.array([err is None for err in errors], dtype=bool)
        skipped = [(int(index), err) for index, err in zip(indices, errors) if err is not None]
        pixels = out if good.all() else out[good]
        if self.colour_lut is not None:
            pixels[..., :3] = apply_lut(pixels[..., :3], self.colour_lut)   # the H&E only
        return np.asarray(indices, dtype=np.int64)[good], pixels, skipped

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class Prefetcher:
    """A thread that takes batches from a TileQueue and reads them ahead.

    Iterate to get ``(indices, pixels)`` batches; tiles over damaged slide tiles are
    left out of them and listed in ``skipped`` as (flat index, message); ``stop()`` ends the thread
    (batches taken but not consumed are simply not computed: they stay pending
    in the store and a later run does them). ``batch_size`` may be lowered
    while running (after an out-of-memory error).
    """

    _END = object()

    def __init__(self, reader: TileReader, tiles: TileQueue, batch_size: int, depth: int = 2):
        self.batch_size = batch_size
        self._reader, self._tiles = reader, tiles
        self._queue: queue.Queue = queue.Queue(maxsize=max(depth, 1))
        self._stop = threading.Event()
        self.read_seconds = 0.0
        self.skipped: list[tuple[int, str]] = []
        self._thread = threading.Thread(target=self._run, name="histoseg-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import time

        try:
            while not self._stop.is_set():
                indices = self._tiles.take(self.batch_size)
                if not len(indices):
                    break
                start = time.perf_counter()
                indices, pixels, skipped = self._reader.read_skipping(indices)
                self.read_seconds += time.perf_counter() - start
                self.skipped.extend((index, str(err)) for index, err in skipped)
                if len(indices):
                    self._put((indices, pixels))
        except BaseException as err:  # handed to the consumer, raised there
            self._put(err)
        self._put(self._END)

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
