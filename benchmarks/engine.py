"""The inference engine against the bare model, and its memory on a huge slide.

1. Throughput: tiles/s of ``segment`` (read, model, blend, write) on tissue tiles,
   divided by tiles/s of the model's forward pass alone on the same tiles,
   already in memory, same batch and device. 1.0 means the engine adds nothing.
2. Memory: peak RSS segmenting a 60,000² synthetic slide vs a 15,000² one, each in
   its own subprocess, at the same level and with the same tile size and model.

Run:  .venv/bin/python benchmarks/engine.py [--device auto] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _big_tiff import write_big_tiff

RSS_SIDES = (15_000, 60_000)


def conv_net(width: int, depth: int):
    """A plain conv stack with ``predict_logits``: 3 -> width x depth -> 2 classes."""
    import torch
    from torch import nn

    class ConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            layers, channels = [], 3
            for _ in range(depth):
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
                channels = width
            self.body = nn.Sequential(*layers, nn.Conv2d(channels, 2, 1))

        def predict_logits(self, he: torch.Tensor) -> torch.Tensor:
            return self.body(he)

    return ConvNet()


def segment_slide(path: Path, level: int, tile_size: int, halo: int, batch: int, device: str,
                  model, out: Path):
    """Plan and run the engine over all tissue tiles; returns (summary, plan)."""
    from napari_histoseg.inference.engine import SegmentParams, segment
    from napari_histoseg.inference.plan import GridParams, ModelInfo, plan_run
    from napari_histoseg.io.slide import open_slide
    from napari_histoseg.io.workspace import Workspace

    slide = open_slide(path)
    info = ModelInfo("bench", "", ("normal", "tumour"), ("#000000", "#ff0000"))
    plan = plan_run(slide, Workspace.open(path, out), GridParams(level=level, tile_size=tile_size,
                                                                 halo=halo), info, restart=True)
    run = segment(slide, model, plan, SegmentParams(batch_size=batch, device=device))
    while True:
        try:
            next(run)
        except StopIteration as stop:
            return stop.value, plan, slide


def forward_only(model, slide, plan, batch: int, device: str) -> float:
    """Tiles/s of the model alone on the plan's tiles, read into memory beforehand."""
    import torch

    from napari_histoseg.inference.predictor import Predictor
    from napari_histoseg.inference.reader import TileReader

    grid = plan.store.spec.grid
    pixels = TileReader(slide, grid, plan.read_level).read(plan.tiles)
    predictor = Predictor(model, device, None, grid.tile_size, batch)
    inputs = [torch.from_numpy(pixels[i:i + batch]).to(predictor.device)
              .permute(0, 3, 1, 2).float().div(255) for i in range(0, len(pixels), batch)]
    from napari_histoseg.inference.predictor import inference_context

    with inference_context(predictor.device):
        predictor.model.predict_logits(inputs[0])  # warm-up
        start = time.perf_counter()
        for x in inputs:
            torch.softmax(predictor.model.predict_logits(x).float(), 1).cpu()
    return len(pixels) / (time.perf_counter() - start)


def throughput(args, workdir: Path) -> None:
    import torch

    torch.manual_seed(0)
    path = write_big_tiff(workdir / "throughput.tif", side=args.side, mpp=0.25)
    model = conv_net(args.width, args.depth)
    segment_slide(path, 0, args.tile_size, args.halo, args.batch, args.device, model,
                  workdir / "warmup")  # warm caches, threads, allocator
    summary, plan, slide = segment_slide(path, 0, args.tile_size, args.halo, args.batch,
                                         args.device, model, workdir / "ws")
    engine = summary.tiles_computed / summary.elapsed_s
    bare = forward_only(model, slide, plan, args.batch, args.device)
    print(f"throughput: {summary.tiles_computed} tissue tiles of {args.tile_size}² "
          f"(halo {args.halo}) from a {args.side}² slide, conv net {args.depth}x{args.width} ch, "
          f"batch {args.batch}, device {summary.device}")
    print(f"  engine {engine:.1f} tiles/s (read {summary.read_s:.1f} s, model "
          f"{summary.compute_s:.1f} s, write {summary.write_s:.1f} s, wall {summary.elapsed_s:.1f} s)")
    print(f"  model forward alone {bare:.1f} tiles/s")
    print(f"  ratio engine / forward = {engine / bare:.2f}  (aim >= 0.9)")


def rss_child(side: int, workdir: Path, level: int) -> None:
    path = write_big_tiff(workdir / f"rss_{side}.tif", side=side, mpp=0.25)
    summary, plan, _ = segment_slide(path, level, 512, 64, 8, "cpu", conv_net(4, 1),
                                     workdir / f"ws_{side}")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"side": side, "tiles": summary.tiles_computed, "grid": plan.store.spec.grid.shape,
                      "peak_rss_mib": peak_mib, "elapsed_s": summary.elapsed_s}))


def memory(workdir: Path, level: int) -> None:
    results = {}
    for side in RSS_SIDES:
        out = subprocess.run([sys.executable, __file__, "--rss-child", str(side), "--workdir",
                              str(workdir), "--rss-level", str(level)],
                             capture_output=True, text=True, check=True)
        results[side] = json.loads(out.stdout.strip().splitlines()[-1])
    small, big = (results[s] for s in RSS_SIDES)
    for r in (small, big):
        print(f"memory: {r['side']:,}² slide, level {level} grid {r['grid']}, {r['tiles']} tiles "
              f"of 512² (halo 64), 1-layer conv net, batch 8, cpu: peak RSS "
              f"{r['peak_rss_mib']:.0f} MiB in {r['elapsed_s']:.0f} s")
    print(f"  ratio peak RSS {RSS_SIDES[1]:,}² / {RSS_SIDES[0]:,}² = "
          f"{big['peak_rss_mib'] / small['peak_rss_mib']:.2f}  (aim <= 1.3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--side", type=int, default=4096, help="throughput slide side, px")
    parser.add_argument("--tile-size", type=int, default=256)
    parser.add_argument("--halo", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--width", type=int, default=32, help="conv net channels")
    parser.add_argument("--depth", type=int, default=4, help="conv net 3x3 layers")
    parser.add_argument("--rss-level", type=int, default=2)
    parser.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="histoseg-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.rss_child:
        rss_child(args.rss_child, workdir, args.rss_level)
        return
    throughput(args, workdir)
    if not args.skip_memory:
        memory(workdir, args.rss_level)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
