"""500 random 512² level-0 tiles through ``Slide.read_region`` and through openslide.

Both readers open the same file; the figure is the ratio of median latencies
(ours / openslide, below 1 means faster). Files: the real Aperio SVS in
../shared/data when present, and a 20,000² JPEG-tiled pyramidal TIFF written here.

Run:  .venv/bin/python benchmarks/read_tiles.py [--count 500] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from _big_tiff import write_big_tiff
from napari_histoseg.io.slide import open_slide

SIZE = 512
REAL_SVS = (Path(__file__).resolve().parents[2] / "shared" / "data" / "cmu-1-small-region"
            / "CMU-1-Small-Region.svs")


def median_ms(read, locations) -> float:
    times = []
    for y, x in locations:
        start = time.perf_counter()
        read(int(y), int(x))
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def compare(path: Path, count: int) -> None:
    slide = open_slide(path)
    height, width = slide.level_shapes[0]
    locations = np.random.default_rng(0).integers(0, [height - SIZE, width - SIZE], (count, 2))
    ours = median_ms(lambda y, x: slide.read_region(0, (y, x), (SIZE, SIZE)), locations)
    line = f"{path.name} ({width:,}x{height:,}): read_region median {ours:.2f} ms"
    try:
        import openslide
    except ImportError:
        print(line + "; openslide-python is not installed, no ratio")
        return
    handle = openslide.OpenSlide(str(path))
    theirs = median_ms(lambda y, x: handle.read_region((x, y), 0, (SIZE, SIZE)), locations)
    print(f"{line}; openslide median {theirs:.2f} ms; ratio ours/openslide {ours / theirs:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    print(f"{args.count} random {SIZE}x{SIZE} level-0 tiles per file")
    if REAL_SVS.is_file():
        compare(REAL_SVS, args.count)
    compare(write_big_tiff(args.workdir / "histoseg-bench-20000.tif", side=20_000), args.count)


if __name__ == "__main__":
    main()
