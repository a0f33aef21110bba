"""CPU forward latency per 512² tile of every architecture and size, against a plain conv stack.

Each network runs ``predict_logits`` (what the inference engine calls) on one
1x3x512x512 tile inside ``inference_context("cpu")``, after one warm-up run; the
median over the runs is printed. The fusion network is also timed with all its
inputs (40x key region and CK5/6). The baseline, timed in the same run, is a plain
stack of 3x3 convs (3->64, then 7 x 64->64, ReLU) at full resolution.

Run:  .venv/bin/python benchmarks/model_forward.py [--runs 5] [--paper-runs 3] [--threads N]
      [--sizes tiny small]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch
from torch import nn

from napari_histoseg.models.device import inference_context
from napari_histoseg.models.registry import available_models, create_model, model_class

SIDE = 512


def conv_stack() -> nn.Module:
    """The baseline: eight 3x3 convs with ReLU, 64 channels, at the tile's full resolution."""
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, padding=1), nn.ReLU()]
    for _ in range(7):
        layers += [nn.Conv2d(64, 64, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers)


def median_latency(call, runs: int) -> float:
    """Median seconds of ``call()`` over ``runs`` runs, after one warm-up run."""
    with inference_context("cpu"):
        call()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def cases(tile: torch.Tensor, sizes: list[str] | None):
    """(label, callable, is_paper_size) for every architecture and size (or only ``sizes``)."""
    baseline = conv_stack().eval()
    yield "baseline conv stack", lambda: baseline(tile), False
    box = torch.tensor([[SIDE // 4, SIDE // 4, SIDE // 2, SIDE // 2]])
    for name in available_models():
        for size in model_class(name)[1]:
            if sizes and size not in sizes:
                continue
            model = create_model(name, size=size).eval()
            yield f"{name} {size}", (lambda m=model: m.predict_logits(tile)), size == "paper"
            if name == "edge_fusion":
                yield (f"{name} {size} +40x +CK5/6",
                       (lambda m=model: m(tile, detail=tile, box=box, ck56=tile)), size == "paper")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per tiny network")
    parser.add_argument("--paper-runs", type=int, default=3, help="timed runs per paper-size network")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--sizes", nargs="*", default=None, help="only these sizes, e.g. tiny small")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tile = torch.randn(1, 3, SIDE, SIDE)
    print(f"CPU forward latency per {SIDE}² tile, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s); median of {args.runs} (tiny) / "
          f"{args.paper_runs} (paper) runs after one warm-up")
    baseline = None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No CK5/6 input")  # predict_logits is H&E-only on purpose
        for label, call, paper in cases(tile, args.sizes):
            seconds = median_latency(call, args.paper_runs if paper else args.runs)
            baseline = baseline or seconds
            print(f"  {label:<34}{seconds * 1000:>10.1f} ms{seconds / baseline:>9.2f}x baseline")


if __name__ == "__main__":
    main()
