"""Generating a synthetic H&E + CK5/6 pair: wall time and peak memory against a baseline.

The baseline, measured in the same run, writes the same pyramids (same tiles, same
JPEG and zlib settings, same worker threads) from blank tiles, so the ratio is the cost
of rendering tissue over the unavoidable cost of encoding and writing the files.

Run:  .venv/bin/python benchmarks/synth.py [--side 20000] [--workdir DIR]
Peak RSS is the process's high-water mark (ru_maxrss) after both runs.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.io.synthetic.writer import write_pyramid


def blank_pair(out_dir: Path, config: SynthConfig) -> None:
    """The baseline: four pyramids like generate_pair's, of blank tiles."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shapes, tile = config.level_shapes(), config.tile_size
    white = np.full((tile, tile, 3), 245, dtype=np.uint8)
    zeros = np.zeros((tile, tile), dtype=np.uint8)
    for name, image, rgb, compression in (("he", white, True, ("jpeg", config.jpeg_quality)),
                                          ("ck56", white, True, ("jpeg", config.jpeg_quality)),
                                          ("labels", zeros, False, ("zlib", 6)),
                                          ("tumour", zeros, False, ("zlib", 6))):
        write_pyramid(out_dir / f"{name}.tif", shapes, lambda *_ , image=image: image.copy(),
                      config.mpp, tile, rgb, compression)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=20_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    config = SynthConfig(size=(args.side, args.side), seed=0)
    workdir = Path(tempfile.mkdtemp(dir=args.workdir))
    try:
        start = time.perf_counter()
        blank_pair(workdir / "baseline", config)
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        pair = generate_pair(workdir / "synthetic", config)
        synthetic = time.perf_counter() - start
        size_mb = sum(p.stat().st_size for p in (pair.he_path, pair.ck56_path, pair.labels_path,
                                                   pair.tumour_path)) / 1e6
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pair {args.side} x {args.side} px ({len(config.level_shapes())} levels, "
          f"{size_mb:.0f} MB on disk)")
    print(f"synthetic pair: {synthetic:.1f} s   baseline (blank tiles, same writer): {baseline:.1f} s   "
          f"ratio {synthetic / baseline:.2f}x")
    print(f"peak RSS: {peak_mb:.0f} MB (target < 1024 MB)")


if __name__ == "__main__":
    main()
