"""Committing a 4,096² mask edit: record + level 0 + every overview, against a plain zarr write.

A result store of 6,144² mask px (2 classes, 512² tiles with a 64 px halo, so
chunks of 384², lz4) is filled with a smooth synthetic probability field. Each
repetition paints a 300 px wide diagonal band and a disc across a 4,096²
window that is not aligned to the chunks (so the changed box is the whole
window), and commits it with ``io.edit_commit.commit_edit``: the
correction record (H&E, after, before; fsynced), level 0's mask and one-hot
probabilities, and every overview level rebuilt above it, under the workspace
lock. The baseline, measured in the same run, is one plain zarr write of the
same 4,096² uint8 labels into mask level 0. The commit's CPU time (all threads)
and the load average are printed too: on a shared machine wall time grows with
the load, CPU time much less.

Run:  .venv/bin/python benchmarks/commit_edit.py [--side 4096] [--repeats 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_histoseg.geometry import TileGrid
from napari_histoseg.io.blend import labels_of, quantise
from napari_histoseg.io.edit_commit import Edit, commit_edit, corrections_of
from napari_histoseg.io.mask_edit import EditWindow, read_window, write_labels
from napari_histoseg.io.pyramid import chunks_meeting, rebuild_above
from napari_histoseg.io.results import ResultSpec, ResultStore
from napari_histoseg.io.workspace import Workspace


def filled_store(root: Path, side: int) -> ResultStore:
    """A store of ``side``² mask px whose level 0 holds a smooth tumour field, overviews built."""
    grid = TileGrid(shape=(side, side), downsample=2.0, tile_size=512, halo=64)
    spec = ResultSpec(grid=grid, slide_mpp=(0.25, 0.25), class_names=("non-tumour", "tumour"),
                      class_colors=("#000000", "#00ff00"), model="synthetic")
    store = ResultStore.create(root / "results.zarr", spec)
    xx = np.arange(side, dtype=np.float32)
    for y0 in range(0, side, grid.stride):
        yy = np.arange(y0, min(y0 + grid.stride, side), dtype=np.float32)[:, None]
        tumour = (np.sin(yy / 700) * np.cos(xx / 500) + 1) / 2
        probabilities = np.stack([1 - tumour, tumour])
        store.probability_levels()[0][:, y0:y0 + len(yy)] = quantise(probabilities)
        store.mask_levels()[0][y0:y0 + len(yy)] = labels_of(probabilities)
    rebuild_above(store, chunks_meeting(store, (0, 0, side, side)))
    return store


def painted(labels: np.ndarray, value: int) -> np.ndarray:
    """``labels`` with a 300 px diagonal band and a disc set to ``value``."""
    h, w = labels.shape
    yy, xx = np.ogrid[:h, :w]
    out = labels.copy()
    out[np.abs(yy * (w / h) - xx) < 150] = value
    out[(yy - h // 3) ** 2 + (xx - 2 * w // 3) ** 2 < (min(h, w) // 6) ** 2] = value
    return out


CPU_SECONDS: list[float] = []


def timed(function) -> float:
    """Wall seconds of ``function()``; its CPU seconds (all threads) go to CPU_SECONDS."""
    start, cpu = time.perf_counter(), time.process_time()
    function()
    CPU_SECONDS.append(time.process_time() - cpu)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=4096, help="edit window side, mask px")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        workspace = Workspace(Path(folder), slide_path=None)
        store = filled_store(Path(folder), args.side * 3 // 2)
        window = EditWindow((args.side // 5 + 7, args.side // 6 + 3), (args.side, args.side))
        image = np.random.default_rng(0).integers(150, 230, (args.side, args.side, 3),
                                                  dtype=np.uint8)
        commits, commit_cpu, records, pyramids, plain = [], [], [], [], []
        box = (slice(window.box[0], window.box[2]), slice(window.box[1], window.box[3]))
        for _ in range(args.repeats):  # the band and disc go to tumour, then back to non-tumour
            edit = Edit(window, painted(read_window(store, window), 1), image, "synthetic.tif")
            commits.append(timed(lambda: commit_edit(workspace, store, edit)))
            commit_cpu.append(CPU_SECONDS[-1])
            before = read_window(store, window)
            edit = Edit(window, painted(before, 0), image, "synthetic.tif")
            records.append(timed(lambda: corrections_of(workspace).commit(
                edit.correction(store, before))))
            pyramids.append(timed(lambda: write_labels(store, window, edit.labels,
                                                       edit.labels != before)))
            plain.append(timed(lambda: store.mask_levels()[0].__setitem__(box, edit.labels)))
        commit, baseline = statistics.median(commits), statistics.median(plain)
        print(f"{args.side}x{args.side} edit window, {store.n_levels} levels, "
              f"median of {args.repeats}:")
        print(f"  commit_edit (record + level 0 + overviews, locked): {commit:.3f} s "
              f"(aim < 1 s) [{', '.join(f'{t:.3f}' for t in commits)}]")
        print(f"    CPU time of the commit (all threads): {statistics.median(commit_cpu):.3f} s; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"    record alone {statistics.median(records):.3f} s, "
              f"pyramid alone {statistics.median(pyramids):.3f} s")
        print(f"  baseline, plain zarr write of the uint8 window: {baseline:.3f} s")
        print(f"  ratio commit / baseline: {commit / baseline:.1f}")


if __name__ == "__main__":
    main()
