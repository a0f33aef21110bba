"""Grad-CAM cost per tile over the forward cost on the same tiles (aim: at most 2).

Both sides run what the inference engine runs per batch: the segmentation
``Predictor.predict`` (uint8 tiles -> normalised -> ``predict_logits`` ->
softmax x 255 on the CPU) and the explain ``GradCamPredictor.predict`` (the same
input path, a forward with autograd only after the hooked layer, the backward
to that layer, the map resized to the tile and quantised). Each is timed on the
same tissue-like tiles, after one warm-up batch; the median over the runs is
printed per tile, with the ratio.

Run:  .venv/bin/python benchmarks/explain.py [--tiles 16] [--batch 4] [--runs 3]
      [--tile-size 512] [--device cpu] [--models hinet:small hinet:tiny edge_fusion:tiny]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import tissue_like_rgb  # noqa: E402

from napari_histoseg.explain.heatmap_predictor import GradCamPredictor  # noqa: E402
from napari_histoseg.inference.predictor import Predictor  # noqa: E402
from napari_histoseg.models.registry import create_model  # noqa: E402


def tiles(count: int, side: int) -> np.ndarray:
    """(count, side, side, 3) uint8 tissue-like tiles, each different."""
    return np.stack([tissue_like_rgb((side, side), seed=seed) for seed in range(count)])


def seconds_per_tile(predictor, pixels: np.ndarray, batch: int, runs: int) -> float:
    """Median over ``runs`` of the time per tile to predict ``pixels`` batch by batch."""
    predictor.predict(pixels[:batch])  # warm-up
    times = []
    for _ in range(runs):
        if predictor.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for first in range(0, len(pixels), batch):
            predictor.predict(pixels[first:first + batch])
        if predictor.device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) / len(pixels))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=16)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tile-size", type=int, default=512)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--models", nargs="*", default=["hinet:small", "hinet:tiny",
                                                       "edge_fusion:tiny"])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    pixels = tiles(args.tiles, args.tile_size)
    print(f"Grad-CAM / forward per {args.tile_size}² tile on {args.device}, {args.tiles} tiles, "
          f"batch {args.batch}, median of {args.runs} runs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU thread(s)")
    for entry in args.models:
        name, size = entry.split(":")
        model = create_model(name, size=size).eval()
        common = dict(device=args.device, normalisation=None, tile_size=args.tile_size,
                      batch_size=args.batch)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No CK5/6 input")
            forward = seconds_per_tile(Predictor(model, **common), pixels, args.batch, args.runs)
            cam = GradCamPredictor(model, None, model.num_classes - 1, "predicted", **common)
            gradcam = seconds_per_tile(cam, pixels, args.batch, args.runs)
        print(f"  {entry:<18} layer {cam.gradcam.layer:<24} forward {forward * 1000:8.1f} ms  "
              f"Grad-CAM {gradcam * 1000:8.1f} ms  ratio {gradcam / forward:5.2f}")


if __name__ == "__main__":
    main()
