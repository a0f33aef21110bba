"""Cost of a slide report against reading the same mask, and its memory on two mask sizes.

Writes a result store whose level-0 mask holds scattered lesions (discs of 5-60 px radius
and single pixels) at two sizes, then times ``build_report`` (areas + lesions + diameters,
block by block) against a bare pass that reads every block and counts its classes, and
records the peak RSS of each size (measured in a child process each, so the sizes do not
share memory).

Run:  .venv/bin/python benchmarks/report.py [--side 20000] [--small 5000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def write_store(folder: Path, side: int, seed: int = 0) -> Path:
    """A workspace with a side x side mask (1 µm/px): per band of 448 rows, side / 400
    discs of 5-60 px radius and 50 single pixels."""
    from napari_histoseg.geometry import TileGrid
    from napari_histoseg.io.results import ResultSpec, ResultStore

    rng = np.random.default_rng(seed)
    spec = ResultSpec(grid=TileGrid((side, side), 1.0, 512, 64), slide_mpp=(1.0, 1.0),
                      class_names=("non-tumour", "tumour"), class_colors=("#000000", "#ff0000"),
                      model="bench")
    store = ResultStore.create(folder / "results.zarr", spec)
    level0 = store.mask_levels()[0]
    band = level0.chunks[0]
    for y in range(0, side, band):
        block = np.zeros((min(band, side - y), side), np.uint8)
        for _ in range(side // 400):
            cy, cx, r = rng.integers(0, band), rng.integers(0, side), rng.integers(5, 60)
            x0, x1 = max(cx - r, 0), min(cx + r, side)
            yy, xx = np.ogrid[:block.shape[0], x0:x1]
            block[:, x0:x1][(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 1
        block[rng.integers(0, block.shape[0], 50), rng.integers(0, side, 50)] = 1
        level0[y:y + block.shape[0]] = block
    return folder


def measure(folder: Path) -> dict:
    """Times of a bare read pass and of build_report, and the peak RSS, in this process."""
    import resource

    from napari_histoseg.io.results import ResultStore
    from napari_histoseg.report.slide_report import build_report, iter_blocks

    level0 = ResultStore.open(folder / "results.zarr").mask_levels()[0]
    start = time.perf_counter()
    counts = np.zeros(256, np.int64)
    for _, block in iter_blocks(level0):
        counts += np.bincount(block.ravel(), minlength=256)
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    report = build_report(folder)
    report_s = time.perf_counter() - start
    return {"read_s": read_s, "report_s": report_s, "lesions": len(report.lesions),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", type=int, default=20000)
    parser.add_argument("--small", type=int, default=5000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for side in (args.small, args.side):
            folder = write_store(Path(scratch) / f"ws-{side}", side)
            out = subprocess.run([sys.executable, __file__, "--measure", str(folder)],
                                 capture_output=True, text=True, check=True)
            results[side] = json.loads(out.stdout.strip().splitlines()[-1])
    for side, r in results.items():
        mp = side * side / 1e6
        print(f"{side}² mask ({mp:.0f} MP, {r['lesions']} lesions): report {r['report_s']:.1f} s, "
              f"bare read {r['read_s']:.1f} s, ratio {r['report_s'] / r['read_s']:.2f}; "
              f"{mp / r['report_s']:.0f} MP/s; peak RSS {r['peak_rss_mib']:.0f} MiB")
    small, large = results[args.small], results[args.side]
    print(f"peak RSS {args.side}² / {args.small}²: "
          f"{large['peak_rss_mib'] / small['peak_rss_mib']:.2f} "
          f"(the mask is {(args.side / args.small) ** 2:.0f}x larger)")


if __name__ == "__main__":
    main()
