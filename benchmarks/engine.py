"""The inference engine against the bare model, and its memory on a huge slide.

1. Throughput: tiles/s of ``segment`` (read, model, blend, write) on tissue tiles,
   divided by tiles/s of the model's forward pass alone on the same tiles,
   already in memory, same batch and device. 1.0 means the engine adds nothing. The
   two are measured in alternation (``--repeats`` pairs) and the median ratio is
   printed, so a change in the machine's load hits both alike.
2. Writer: milliseconds per 512² tile (halo 64, 2 classes) to save tile predictions
   and publish them (blend, overviews, done record) into a result store, tiles in
   row-major batches of 8 as the engine hands them over; smooth synthetic
   predictions, so compression sees data like a model's. Also its CPU time, which
   other processes on the machine do not inflate.
3. Memory: peak RSS segmenting a 60,000² synthetic slide vs a 15,000² one, each in
   its own subprocess, at the same level and with the same tile size and model.

Run:  .venv/bin/python benchmarks/engine.py [--device auto] [--workdir DIR]
On a GPU: .venv/bin/python benchmarks/engine.py --device cuda --model hinet --size paper
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


def bench_model(args):
    """The conv stack, or a registered architecture (random weights) at ``args.size``."""
    if args.model == "conv":
        return conv_net(args.width, args.depth)
    from napari_histoseg.models.registry import create_model

    return create_model(args.model, size=args.size)


def throughput(args, workdir: Path) -> None:
    """Engine and bare forward measured in alternation; the ratio of each pair, median."""
    import torch

    torch.manual_seed(0)
    path = write_big_tiff(workdir / "throughput.tif", side=args.side, mpp=0.25)
    model = bench_model(args)
    segment_slide(path, 0, args.tile_size, args.halo, args.batch, args.device, model,
                  workdir / "warmup")  # warm caches, threads, allocator
    pairs = []
    for repeat in range(args.repeats):  # alternate, so a change in load hits both alike
        summary, plan, slide = segment_slide(path, 0, args.tile_size, args.halo, args.batch,
                                             args.device, model, workdir / f"ws{repeat}")
        pairs.append((summary, summary.tiles_computed / summary.elapsed_s,
                      forward_only(model, slide, plan, args.batch, args.device)))
    name = (f"conv net {args.depth}x{args.width} ch" if args.model == "conv"
            else f"{args.model} {args.size}")
    print(f"throughput: {pairs[0][0].tiles_computed} tissue tiles of {args.tile_size}² "
          f"(halo {args.halo}) from a {args.side}² slide, {name}, "
          f"batch {args.batch}, device {pairs[0][0].device}, {args.repeats} alternations")
    for summary, engine, bare in pairs:
        print(f"  engine {engine:.1f} tiles/s (read {summary.read_s:.1f} s, model "
              f"{summary.compute_s:.1f} s, write {summary.write_s:.1f} s, wall "
              f"{summary.elapsed_s:.1f} s); model forward alone {bare:.1f} tiles/s; "
              f"ratio {engine / bare:.2f}")
    ratios = [engine / bare for _, engine, bare in pairs]
    print(f"  ratio engine / forward = {np.median(ratios):.2f}, median of {len(ratios)}  "
          f"(aim >= 0.9)")


def smooth_predictions(rng, count: int, tile: int) -> np.ndarray:
    """(count, 2, tile, tile) uint8 softmax x 255 of smooth random fields."""
    y, x = np.mgrid[:tile, :tile] / tile
    out = np.empty((count, 2, tile, tile), dtype=np.uint8)
    for i in range(count):
        a, b, c = rng.uniform(-6, 6, 3)
        logit = a * np.sin(3 * y + b) + c * np.cos(2 * x)
        tumour = np.round(255 / (1 + np.exp(-logit))).astype(np.uint8)
        out[i, 0], out[i, 1] = 255 - tumour, tumour
    return out


def writer_cost(workdir: Path, side_tiles: int = 12, repeats: int = 3) -> None:
    """Median ms per 512² tile of the result writer alone (save + publish)."""
    from napari_histoseg.geometry import TileGrid
    from napari_histoseg.inference.writer import BatchWriter
    from napari_histoseg.io.results import ResultSpec, ResultStore

    tile, halo, batch = 512, 64, 8
    grid = TileGrid(shape=(side_tiles * (tile - 2 * halo),) * 2, downsample=1.0,
                    tile_size=tile, halo=halo)
    spec = ResultSpec(grid, (0.5, 0.5), ("normal", "tumour"), ("#000000", "#ff0000"), "bench")
    predictions = smooth_predictions(np.random.default_rng(0), batch * 4, tile)
    costs, cpu_costs = [], []
    for repeat in range(repeats):
        store = ResultStore.create(workdir / f"writer-{repeat}.zarr", spec)
        cpu_start = time.process_time()  # this process does nothing else meanwhile
        writer = BatchWriter(store, depth=1000)  # the model never waits: writer time alone
        for start in range(0, grid.n_tiles, batch):
            indices = np.arange(start, min(start + batch, grid.n_tiles))
            writer.submit(indices, predictions[start % len(predictions):][:len(indices)])
        writer.close()
        costs.append(writer.seconds / grid.n_tiles * 1000)
        cpu_costs.append((time.process_time() - cpu_start) / grid.n_tiles * 1000)
    print(f"writer: {grid.n_tiles} tiles of {tile}² (halo {halo}, 2 classes, batches of "
          f"{batch}, {grid.shape[0]}² grid): {np.median(costs):.1f} ms per tile, median of "
          f"{repeats} (runs: {', '.join(f'{c:.1f}' for c in costs)}; aim <= 10 ms); "
          f"CPU time {np.median(cpu_costs):.1f} ms per tile (all threads; not slowed by "
          f"other processes)")


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
    parser.add_argument("--model", default="conv",
                        help="'conv' (the plain conv stack) or a registered architecture")
    parser.add_argument("--size", default="tiny", help="architecture size: tiny or paper")
    parser.add_argument("--repeats", type=int, default=3, help="engine/forward alternations")
    parser.add_argument("--skip-writer", action="store_true")
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
    if not args.skip_writer:
        writer_cost(workdir)
    if not args.skip_memory:
        memory(workdir, args.rss_level)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
