"""Opening a 100,000² JPEG-tiled pyramidal TIFF, and what napari reads to show it.

Prints two figures:
1. the median time of ``open_slide`` (5 runs) against the 1 s target, and against
   the baseline of tifffile merely parsing the same file's header, in the same run;
2. the tiles decoded while a napari viewer opens the slide and draws it, against
   the tiles on screen at the level napari shows plus the smallest level, which
   napari reads for the layer's thumbnail (and against all level-0 tiles).

Run:  .venv/bin/python benchmarks/open_slide.py [--side 100000] [--workdir DIR]
Needs a display, or runs itself under a virtual one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import tifffile

from _big_tiff import TILE, write_big_tiff
from napari_histoseg.io.slide import open_slide

RUNS = 5


def median_seconds(function, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def parse_header(path: Path) -> None:
    with tifffile.TiffFile(path) as tif:
        tif.series[0].levels[0].keyframe.dataoffsets  # noqa: B018 - the work being timed


def count_tiles_napari_reads(path: Path) -> tuple[int, int, tuple[int, int]]:
    """(tiles decoded, tiles on screen at the shown level, canvas size) for one viewer."""
    import napari
    from qtpy.QtWidgets import QApplication

    from tifffile.zarr import ZarrTiffStore

    decoded = 0
    original = ZarrTiffStore.get

    async def counting_get(self, key, *args, **kwargs):
        nonlocal decoded
        decoded += not key.rsplit("/", 1)[-1].startswith(".") and not key.endswith(".json")
        return await original(self, key, *args, **kwargs)

    ZarrTiffStore.get = counting_get
    try:
        viewer = napari.Viewer(show=True)
        viewer.window.resize(1400, 900)
        [layer] = viewer.open(str(path), plugin="napari-histoseg")
        for _ in range(40):
            QApplication.processEvents()
            time.sleep(0.05)
        level = layer.data_level
        canvas = tuple(int(v) for v in viewer.canvas.size)
        on_screen = _tiles_in_view(layer, level) + _level_tiles(layer.data[-1].shape)
        viewer.close()
    finally:
        ZarrTiffStore.get = original
    return decoded, on_screen, canvas


def _level_tiles(shape: tuple[int, ...]) -> int:
    """Tiles of the smallest level, which napari reads whole for the layer thumbnail."""
    return (-(-shape[0] // TILE)) * (-(-shape[1] // TILE))


def _tiles_in_view(layer, level: int) -> int:
    """Tiles of ``level`` that intersect the part of the slide that is drawn."""
    (top, left), (bottom, right) = layer.corner_pixels[:, :2]
    rows = bottom // TILE - top // TILE + 1
    cols = right // TILE - left // TILE + 1
    return int(rows * cols)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    path = write_big_tiff(args.workdir / f"histoseg-bench-{args.side}.tif", side=args.side)
    print(f"slide: {path} ({path.stat().st_size / 2**30:.2f} GiB, {args.side:,}² px, "
          f"{TILE}² JPEG tiles)")

    opened = median_seconds(lambda: open_slide(path))
    header = median_seconds(lambda: parse_header(path))
    print(f"open_slide: median {opened * 1000:.0f} ms over {RUNS} runs; "
          f"ratio to the 1 s target {opened:.2f}; ratio to tifffile header parse "
          f"({header * 1000:.0f} ms) {opened / header:.2f}")

    from pyvirtualdisplay import Display

    with Display(visible=False, size=(1400, 900)):
        decoded, on_screen, canvas = count_tiles_napari_reads(path)
    level0_tiles = (-(-args.side // TILE)) ** 2
    print(f"napari viewer ({canvas[1]}x{canvas[0]} canvas): decoded {decoded} tiles; "
          f"tiles on screen at the shown level + thumbnail level {on_screen}; ratio {decoded / on_screen:.2f}; "
          f"level 0 holds {level0_tiles:,} tiles")


if __name__ == "__main__":
    main()
