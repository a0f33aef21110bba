"""Whole-slide inference as a generator of progress events and tile results.

Three stages overlap: a prefetch thread reads the next batches of tiles
(visible region first), the calling thread runs the model, and a writer
thread blends finished batches into the :class:`ResultStore`. The generator
yields, per written batch, one :class:`TileResult` per tile and then one
:class:`Progress`; it returns a :class:`RunSummary`.

Cancel between batches by closing the generator (or stopping iteration), or
by setting ``cancel`` (a ``threading.Event``). Batches already computed are
still written and marked done; a later call with the same store resumes and
computes only the tiles not done. A run killed at any moment and resumed
leaves the store byte for byte as an uninterrupted run does
(:mod:`napari_histoseg.io.result_update`).

>>> plan = plan_run(slide, workspace, GridParams(mpp=1.0), model_info)  # doctest: +SKIP
>>> run = segment(slide, model, plan, SegmentParams(batch_size=8))      # doctest: +SKIP
>>> for event in run:                                                   # doctest: +SKIP
...     if isinstance(event, Progress): print(event.done, "/", event.total)
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Generator

import numpy as np

from napari_histoseg.inference.events import (BatchSizeReduced, Event, Progress, RunSummary,
                                              TileResult)
from napari_histoseg.inference.plan import RunPlan
from napari_histoseg.inference.reader import Prefetcher, TileReader
from napari_histoseg.inference.tiling import TileQueue, ViewportSource
from napari_histoseg.inference.writer import BatchWriter
from napari_histoseg.io.workspace import ResultStore, RunLog, workspace_lock


@dataclass(frozen=True)
class SegmentParams:
    """Run settings that do not change the stored results' geometry.

    Attributes:
        batch_size: tiles per forward pass (lowered automatically on out-of-memory).
        device: "auto" (cuda, then mps, then cpu), "cpu", "cuda", "cuda:1", "mps".
        normalisation: {"mean": [r, g, b], "std": [r, g, b]} for RGB scaled to 0-1,
            or None for plain 0-1 input.
        prefetch_batches: batches read ahead of the model.
        read_threads: threads reading (decoding) the tiles of a batch; None: one on the
            CPU, where the model needs the cores, and up to 8 for a GPU.
        colour_lut: a (64, 64, 64, 3) uint8 stain-normalisation table for this slide
            (``stain.colour_lut``), applied to tiles before the model, or None.
        publish_tiles, publish_s: finished tiles are published (blended into the results,
            shown, recorded as done) in groups of about this many, or every ``publish_s``
            seconds (the dock asks for shorter intervals, so the mask fills in live).
        flips: flipped views of each tile whose probabilities are averaged (1, 2 or 4;
            ``flip_views``); each costs one forward pass.
    """

    batch_size: int = 8
    device: str = "auto"
    normalisation: dict | None = None
    prefetch_batches: int = 2
    read_threads: int | None = None
    colour_lut: np.ndarray | None = field(default=None, repr=False, compare=False)
    publish_tiles: int = 64
    publish_s: float = 2.0
    flips: int = 1

    def __post_init__(self):
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")


def segment(slide, model, plan: RunPlan, params: SegmentParams = SegmentParams(), *,
            viewport: ViewportSource = None, cancel: threading.Event | None = None,
            run_log: RunLog | None = None, predictor=None) -> Generator[Event, None, RunSummary]:
    """Segment the planned tiles of ``plan`` that are not done yet.

    Args:
        slide: the opened Slide the plan was made for.
        model: a torch module with ``predict_logits((B, 3, H, W)) -> (B, C, H, W)``.
        plan: from :func:`plan_run`: result store (and its grid), tissue tiles, read level.
        viewport: level-0 box ((y, x), (h, w)) to do first, or a function giving
            the current one (called each time a batch is formed, from a worker thread).
        cancel: set it to stop after the current batch.
        run_log: where to record the run (start, end, timings).
        predictor: what maps tiles to the stored maps, in place of a
            :class:`~napari_histoseg.inference.predictor.Predictor` of ``model``
            (e.g. the Grad-CAM heatmaps of :mod:`napari_histoseg.explain`).

    Raises:
        WorkspaceBusyError: another run is writing to the same workspace (its lock
            is held from the first event to the end of this run).
    """
    with workspace_lock(plan.store.path.parent):
        return (yield from _segment(slide, model, plan, params, viewport, cancel, run_log,
                                    predictor))


def _segment(slide, model, plan: RunPlan, params: SegmentParams, viewport: ViewportSource,
             cancel: threading.Event | None, run_log: RunLog | None, predictor=None):
    from napari_histoseg.inference.predictor import Predictor

    store, read_level = plan.store, plan.read_level
    grid = store.spec.grid
    done = store.done_tiles()
    tiles = np.asarray(plan.tiles, dtype=np.int64)
    pending = tiles[~done.ravel()[tiles]]
    predictor = predictor or Predictor(model, params.device, params.normalisation,
                                       grid.tile_size, params.batch_size, params.flips)
    _log(run_log, "start", store, params, planned=len(tiles), pending=len(pending),
         device=str(predictor.device))
    start = time.perf_counter()
    state = _RunState(total=len(tiles), finished=len(tiles) - len(pending))
    reader = TileReader(slide, grid, read_level, params.colour_lut,
                        _read_threads(params.read_threads, predictor.device.type))
    prefetcher = Prefetcher(reader, TileQueue(grid, pending, viewport),
                            params.batch_size, params.prefetch_batches)
    writer = BatchWriter(store, publish_tiles=params.publish_tiles, publish_s=params.publish_s)
    try:
        for indices, pixels in prefetcher:
            if cancel is not None and cancel.is_set():
                state.cancelled = True
                break
            probabilities, reductions = predictor.predict(pixels, indices)
            for reduced in reductions:
                prefetcher.batch_size = reduced.batch_size
                yield reduced
            writer.submit(indices, probabilities)
            yield from _finished_events(writer.completed(), grid, state, start)
        yield from _finished_events(writer.completed(final=True), grid, state, start)
    finally:
        prefetcher.stop()
        reader.close()
        writer.close()
        _log_skipped(run_log, prefetcher.skipped, grid)
        finished = state.finished + len(prefetcher.skipped)
        state.cancelled = state.cancelled or finished < state.total
        summary = RunSummary(
            tiles_planned=len(tiles), tiles_already_done=len(tiles) - len(pending),
            tiles_computed=writer.tiles_written, cancelled=state.cancelled,
            elapsed_s=time.perf_counter() - start, read_s=prefetcher.read_seconds,
            compute_s=predictor.seconds, write_s=writer.seconds,
            batch_size=predictor.batch_size, device=str(predictor.device),
            tiles_skipped=len(prefetcher.skipped))
        _log(run_log, "end", store, params, **summary.__dict__)
    return summary


def _read_threads(requested: int | None, device_type: str) -> int:
    """Reader threads: as requested, else 1 on the CPU and up to 8 for an accelerator."""
    if requested is not None:
        return max(int(requested), 1)
    return 1 if device_type == "cpu" else min(8, os.cpu_count() or 1)


@dataclass
class _RunState:
    total: int
    finished: int
    cancelled: bool = False


def _finished_events(batches, grid, state: _RunState, start: float):
    """TileResult per written tile, then one Progress per written batch."""
    cols = grid.grid_shape[1]
    for indices in batches:
        boxes = grid.core_boxes_level0(indices)
        for index, (y0, x0, y1, x1) in zip(indices, boxes):
            yield TileResult(index=divmod(int(index), cols), location=(int(y0), int(x0)),
                             size=(int(round(y1 - y0)), int(round(x1 - x0))))
        state.finished += len(indices)
        yield Progress(done=state.finished, total=state.total,
                       elapsed_s=time.perf_counter() - start)


def _log_skipped(run_log: RunLog | None, skipped: list[tuple[int, str]], grid) -> None:
    """One run-log line per tile left out because the slide is damaged under it."""
    if run_log is None:
        return
    cols = grid.grid_shape[1]
    for index, message in skipped:
        run_log.append({"event": "tile-skipped", "tile": list(divmod(index, cols)),
                        "reason": message})


def _log(run_log: RunLog | None, event: str, store: ResultStore, params: SegmentParams,
         **extra) -> None:
    if run_log is None:
        return
    spec = store.spec
    run_log.append({"event": f"segment-{event}", "model": spec.model,
                    "checkpoint_sha256": spec.model_sha256, "tile_size": spec.grid.tile_size,
                    "halo": spec.grid.halo, "downsample": spec.grid.downsample,
                    "mpp": spec.mpp, "batch_size": params.batch_size, "flips": params.flips,
                    "normalisation": params.normalisation, **extra})
