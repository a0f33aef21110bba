"""Wrong tiles when the fast path and napari's display reads share a slide, at length.

The longer version of tests/test_concurrent_reads.py: 3 threads reading with
``Slide.read_region`` beside 3 threads reading the dask levels napari draws
from, every read compared with a single-threaded read of the same pixels. The
baseline is the fast path alone in the same run: the ratio is fast-path reads
per second together / alone (what sharing the file costs).

Run:  .venv/bin/python benchmarks/concurrent_reads.py [--reads 10000] [--tile 64]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import tissue_like_rgb, write_pyramid_tiff  # noqa: E402
from tests.test_concurrent_reads import FAST_READERS, _boxes, _read_together  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=10_000, help="fast-path reads per thread")
    parser.add_argument("--tile", type=int, default=64)
    parser.add_argument("--side", type=int, default=2048)
    args = parser.parse_args()

    from napari_histoseg.io.slide import open_slide

    with tempfile.TemporaryDirectory() as folder:
        path = write_pyramid_tiff(Path(folder) / "slide.tif",
                                  tissue_like_rgb((args.side, args.side)), levels=2,
                                  tile=args.tile, compression="jpeg")
        slide = open_slide(path)
        boxes = _boxes(slide.level_shapes[0], 2000, seed=7)
        start = time.perf_counter()
        for y, x, h, w in boxes:
            slide.read_region(0, (y, x), (h, w))
        alone = len(boxes) / (time.perf_counter() - start)
        start = time.perf_counter()
        counts = _read_together(slide, level=0, fast_reads=args.reads)
        together = counts["fast"] / (time.perf_counter() - start)
    print(f"{FAST_READERS} fast-path threads x {args.reads} reads beside 3 display threads "
          f"({args.side}² JPEG, {args.tile}² tiles): fast {counts['fast']} reads, "
          f"{counts['fast wrong']} wrong; display {counts['display']} reads, "
          f"{counts['display wrong']} wrong; {len(counts['errors'])} errors")
    print(f"fast-path reads/s together {together:,.0f} vs alone {alone:,.0f} (one thread): "
          f"ratio {together / alone:.2f}")


if __name__ == "__main__":
    main()
