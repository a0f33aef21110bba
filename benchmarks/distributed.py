"""Batch segmentation on dask.distributed: throughput with 1 and 2 local workers, and scaling.

The same slides are segmented twice by ``inference.batch.run_batch``: on a
LocalCluster of 1 worker, then of 2 workers (separate processes, one thread
each, torch limited to ``--torch-threads`` per worker). Each cluster first
segments one warm-up slide per worker (model load, torch start-up), then the
timed batch; throughput is tiles per second of batch wall time, and the
scaling efficiency is throughput(2) / (2 x throughput(1)): 1.0 is perfect.
The model is the shipped synthetic checkpoint, so tiles cost what they cost in use.

Load matters on a shared machine: the script prints the cores and the load
average before each run, and how many cores the workers kept busy on average
(their CPU seconds / wall seconds). One worker already overlaps reading, the
model and writing in three threads, so it can keep more than one core busy;
efficiency can only approach 1.0 when the cores two workers want are free.

Run:  .venv/bin/python benchmarks/distributed.py [--slides 4] [--side 3072] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# This file is named like the package it benchmarks: keep its folder from hiding it, and
# append the folder (for _big_tiff) only after ``distributed`` is imported.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
import distributed  # noqa: E402, F401

sys.path.append(str(HERE))
from _big_tiff import write_big_tiff  # noqa: E402

CHECKPOINT = (Path(__file__).resolve().parents[1] / "src" / "napari_histoseg" / "models"
              / "weights" / "hinet-tiny-synthetic.safetensors")


def worker_cpu_seconds(client) -> float:
    """User + system CPU seconds of every worker process so far (psutil, a distributed need)."""
    def cpu() -> float:
        import psutil

        times = psutil.Process().cpu_times()
        return times.user + times.system

    return sum(client.run(cpu).values())


def run_on_cluster(workers: int, slides: list[Path], warmups: list[Path], workdir: Path,
                   torch_threads: int) -> tuple[float, int, float]:
    """(batch wall seconds, tiles computed, worker CPU seconds) of ``slides`` on a fresh
    LocalCluster."""
    from distributed import Client, LocalCluster

    from napari_histoseg.inference.batch.manifest import BatchItem
    from napari_histoseg.inference.batch.runner import run_batch
    from napari_histoseg.inference.batch.worker import ModelCache
    from napari_histoseg.inference.session import SegmentRequest

    template = SegmentRequest(slide_path=Path(), model=str(CHECKPOINT), device="cpu",
                              batch_size=4, restart=True)
    cache = ModelCache(torch_threads=torch_threads)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        warm = [BatchItem(s, workdir / f"warm-{workers}" / s.name) for s in warmups[:workers]]
        _finish(run_batch(client, warm, template, cache=cache))
        items = [BatchItem(s, workdir / f"run-{workers}" / s.name) for s in slides]
        cpu_before, start = worker_cpu_seconds(client), time.perf_counter()
        outcomes = _finish(run_batch(client, items, template, cache=cache))
        seconds = time.perf_counter() - start
        cpu = worker_cpu_seconds(client) - cpu_before
    failed = [o for o in outcomes if o.status != "done"]
    if failed:
        raise RuntimeError(f"slides failed: {failed}")
    return seconds, sum(o.tiles_computed for o in outcomes), cpu


def _finish(run):
    while True:
        try:
            next(run)
        except StopIteration as stop:
            return stop.value


def load_note() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    one, five, _ = os.getloadavg()
    free = max(0.0, cores - one)
    return f"{cores} cores, load average {one:.1f} (1 min) / {five:.1f} (5 min): ~{free:.1f} free"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slides", type=int, default=4, help="slides in the timed batch")
    parser.add_argument("--side", type=int, default=3072, help="slide side, level-0 px")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="histoseg-bench-dist-"))
    workdir.mkdir(parents=True, exist_ok=True)
    # 0.5 µm/px slides and a 1 µm/px model: the grid is half the slide's side.
    slides = [write_big_tiff(workdir / f"slide-{i}.tif", side=args.side, mpp=0.5)
              for i in range(args.slides)]
    warmups = [write_big_tiff(workdir / f"warm-{i}.tif", side=1024, mpp=0.5) for i in range(2)]
    results, per_cpu = {}, {}
    for workers in (1, 2):
        note = load_note()
        seconds, tiles, cpu = run_on_cluster(workers, slides, warmups, workdir,
                                             args.torch_threads)
        results[workers], per_cpu[workers] = tiles / seconds, tiles / cpu
        print(f"{workers} worker{'s' if workers > 1 else ''}: {tiles} tiles of 512² in "
              f"{seconds:.1f} s = {results[workers]:.2f} tiles/s, workers busy {cpu / seconds:.2f} "
              f"cores on average, {per_cpu[workers]:.2f} tiles per worker CPU second "
              f"(before the run: {note})")
    efficiency = results[2] / (2 * results[1])
    print(f"scaling efficiency throughput(2) / (2 x throughput(1)) = {efficiency:.2f}  "
          f"(aim >= 0.8 with 2 free cores; {args.slides} slides of {args.side}², "
          f"hinet-tiny-synthetic, batch 4, {args.torch_threads} torch thread(s) per worker)")
    print(f"tiles per worker CPU second, 2 workers / 1 worker = {per_cpu[2] / per_cpu[1]:.2f}  "
          "(1.0: a second worker adds no CPU overhead, and a lower efficiency means cores that "
          "were not free)")


if __name__ == "__main__":
    main()
