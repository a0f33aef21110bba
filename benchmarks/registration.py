"""Registering a synthetic 8,192² CK5/6 slide onto its H&E: error against the known transform, and time.

Prints, for each synthetic pair (rotation up to 10°, shift up to 5% of the side):
the largest and mean distance, in H&E level-0 px, between where the estimated and
the true transform send the H&E's tissue, and the seconds ``register`` took; and,
as the in-run baseline, the same for the coarse thumbnail step alone (no
refinement), with the ratio of the two errors.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/registration.py [--side 8192] [--mpp 0.5]
      [--seeds 26 20] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.registration import RegistrationParams, register
from napari_histoseg.tissue import tissue_mask


def tissue_error_px(he, estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Level-0 px distances between where two affines send the H&E's tissue pixels."""
    tissue = tissue_mask(he, 512)
    points = np.argwhere(tissue.mask) * np.asarray(tissue.downsample)
    points = np.c_[points, np.ones(len(points))]
    return np.hypot(*((points @ estimate.T - points @ truth.T)[:, :2].T))


def parameters(matrix: np.ndarray, side: int) -> tuple[float, float, np.ndarray]:
    """(rotation °, scale, (dy, dx) level-0 px that the slide centre moves) of an H&E -> CK5/6 affine."""
    centre = (np.array([side, side], float) - 1) / 2
    linear = matrix[:2, :2]
    return (float(np.degrees(np.arctan2(linear[1, 0], linear[0, 0]))),
            float(np.sqrt(abs(np.linalg.det(linear)))), linear @ centre + matrix[:2, 2] - centre)


def timed_register(he, ck56, params: RegistrationParams):
    start = time.perf_counter()
    registration = register(he, ck56, params)
    return registration, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=8192)
    parser.add_argument("--mpp", type=float, default=0.5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[26, 20])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="histoseg-registration-"))
    coarse_only = RegistrationParams(refine_mpp=1e6)
    for seed in args.seeds:
        config = SynthConfig(size=(args.side, args.side), mpp=args.mpp, seed=seed, max_rotation_deg=10.0,
                             max_shift_um=0.05 * args.side * args.mpp)
        start = time.perf_counter()
        pair = generate_pair(workdir / f"pair-{args.side}-{seed}", config)
        made = time.perf_counter() - start
        he, ck56 = open_slide(pair.he_path), open_slide(pair.ck56_path)
        angle = np.degrees(np.arctan2(pair.affine[1, 0], pair.affine[0, 0]))
        linear, centre = pair.affine[:2, :2], (np.array(config.size, float) - 1) / 2
        shift = np.abs(pair.affine[:2, 2] - (centre - linear @ centre)).max() / args.side * 100
        full, seconds = timed_register(he, ck56, RegistrationParams())
        coarse, coarse_seconds = timed_register(he, ck56, coarse_only)
        error, coarse_error = (tissue_error_px(he, r.matrix, pair.affine) for r in (full, coarse))
        print(f"{args.side}² at {args.mpp} µm/px, seed {seed} (pair made in {made:.0f} s): "
              f"true rotation {angle:.1f}°, shift {shift:.1f}% of the side")
        print(f"  registered: error max {error.max():.2f} px, mean {error.mean():.2f} px "
              f"over tissue, {seconds:.1f} s wall ({os.getloadavg()[0]:.1f} load); {full.summary()}")
        (a1, s1, c1), (a2, s2, c2) = (parameters(m, args.side) for m in (pair.affine, full.matrix))
        print(f"  fitted - true: rotation {a2 - a1:+.4f}°, scale {s2 - s1:+.6f}, centre shift "
              f"({c2[0] - c1[0]:+.2f}, {c2[1] - c1[1]:+.2f}) px (true: {a1:.3f}°, scale {s1:.5f})")
        print(f"  baseline (thumbnails only): error max {coarse_error.max():.2f} px, mean "
              f"{coarse_error.mean():.2f} px, {coarse_seconds:.1f} s; refinement cuts the "
              f"largest error {coarse_error.max() / max(error.max(), 1e-9):.1f}x")


if __name__ == "__main__":
    main()
