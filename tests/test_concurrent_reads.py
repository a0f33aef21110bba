"""Fast-path and display (dask over tifffile's zarr store) reads of one slide, together.

Every tile read while other threads read the same file must equal the same
tile read alone. JPEG tiles decode cleanly from the wrong bytes too, so a
race shows up as wrong pixels, not only as errors.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from napari_histoseg.io import tile_reader
from napari_histoseg.io.slide import open_slide
from tests.conftest import tissue_like_rgb, write_pyramid_tiff

TILE = 64
FAST_READERS, DISPLAY_READERS = 3, 3
#: Reads per fast-path thread; display threads (slower, via dask) read until those finish.
FAST_READS_PER_THREAD = 1000


def _boxes(shape: tuple[int, int], count: int, seed: int) -> list[tuple[int, int, int, int]]:
    """Random (y, x, h, w) boxes of one to two tiles, some unaligned."""
    rng = np.random.default_rng(seed)
    h = rng.integers(TILE // 2, 2 * TILE, count)
    w = rng.integers(TILE // 2, 2 * TILE, count)
    y = rng.integers(0, shape[0] - h)
    x = rng.integers(0, shape[1] - w)
    return list(zip(y.tolist(), x.tolist(), h.tolist(), w.tolist()))


def _read_together(slide, level: int, fast_reads: int) -> dict[str, int | list[str]]:
    """Fast-path and display readers at once; reads and wrong reads of each path, errors."""
    shape = slide.level_shapes[level]
    reference = np.asarray(slide.levels[level].compute(scheduler="synchronous"))
    counts = {"fast": 0, "fast wrong": 0, "display": 0, "display wrong": 0, "errors": []}
    lock = threading.Lock()
    fast_done = threading.Event()

    def read(kind: str, y: int, x: int, h: int, w: int) -> None:
        try:
            if kind == "fast":
                pixels = slide.read_region(level, (y, x), (h, w))
            else:  # as napari draws a multiscale level: dask over tifffile's zarr store
                pixels = np.asarray(slide.levels[level][y:y + h, x:x + w])
        except Exception as err:  # noqa: BLE001 - a decode error is a failure we count
            with lock:
                counts["errors"].append(f"{kind}: {type(err).__name__}: {err}")
            return
        bad = not np.array_equal(pixels, reference[y:y + h, x:x + w])
        with lock:
            counts[kind] += 1
            counts[f"{kind} wrong"] += bad

    def fast_worker(seed: int) -> None:
        for box in _boxes(shape, fast_reads, seed):
            read("fast", *box)

    def display_worker(seed: int) -> None:
        for box in _boxes(shape, 10**5, seed):
            read("display", *box)
            if fast_done.is_set():
                return

    fast = [threading.Thread(target=fast_worker, args=(seed,)) for seed in range(FAST_READERS)]
    display = [threading.Thread(target=display_worker, args=(100 + seed,))
               for seed in range(DISPLAY_READERS)]
    for thread in display + fast:
        thread.start()
    for thread in fast:
        thread.join()
    fast_done.set()
    for thread in display:
        thread.join()
    return counts


@pytest.fixture
def jpeg_slide(tmp_path):
    path = write_pyramid_tiff(tmp_path / "small-tiles.tif", tissue_like_rgb((1024, 1024)),
                              levels=2, tile=TILE, compression="jpeg")
    return open_slide(path)


def test_fast_path_and_display_reads_never_mix_up_tiles(jpeg_slide):
    assert isinstance(jpeg_slide.region_readers[0], tile_reader.TiledLevelReader)
    counts = _read_together(jpeg_slide, level=0, fast_reads=FAST_READS_PER_THREAD)
    assert counts["fast"] + counts["display"] >= FAST_READERS * FAST_READS_PER_THREAD >= 3000
    assert counts["display"] >= DISPLAY_READERS
    assert (counts["fast wrong"], counts["display wrong"], counts["errors"][:3]) == (0, 0, [])


def test_without_pread_the_fast_path_takes_tifffiles_lock(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "pread", raising=False)
    path = write_pyramid_tiff(tmp_path / "locked.tif", tissue_like_rgb((512, 512)),
                              levels=2, tile=TILE, compression="jpeg")
    slide = open_slide(path)
    assert isinstance(slide.region_readers[0]._source, tile_reader.SharedHandleFile)
    counts = _read_together(slide, level=0, fast_reads=300)
    assert counts["fast"] == FAST_READERS * 300 and counts["display"] >= DISPLAY_READERS
    assert (counts["fast wrong"], counts["display wrong"], counts["errors"][:3]) == (0, 0, [])
