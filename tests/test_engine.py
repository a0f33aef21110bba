"""The tiled inference engine on small slides: seams, cancel and resume, events."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from napari_histoseg.inference.engine import (BatchSizeReduced, Progress, SegmentParams,
                                              TileResult, segment)
from napari_histoseg.inference.plan import GridParams, ModelInfo, plan_run
from napari_histoseg.io.blend import dequantise
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.workspace import Workspace

from .conftest import assert_same_arrays, drain, tissue_like_rgb, write_pyramid_tiff
from .segmentation_models import EchoModel, PurpleModel

ECHO = ModelInfo("echo", "", ("r", "g", "b"), ("#ff0000", "#00ff00", "#0000ff"))
TWO = ModelInfo("purple", "", ("normal", "tumour"), ("#000000", "#ff0000"))
CPU = SegmentParams(batch_size=4, device="cpu", publish_tiles=4)


@pytest.fixture
def small_slide(tmp_path):
    """A 300 x 420 slide, lossless so the pixels the engine reads are known exactly."""
    image = tissue_like_rgb((300, 420), seed=3)
    path = write_pyramid_tiff(tmp_path / "small.tif", image, levels=1, tile=64,
                              compression="zlib")
    return open_slide(path), image


def test_blended_probabilities_of_an_echo_model_have_no_seams(small_slide):
    slide, image = small_slide
    plan = plan_run(slide, Workspace.open(slide.path), GridParams(tile_size=128, halo=32,
                                                                  min_tissue_fraction=-1), ECHO)
    events, summary = drain(segment(slide, EchoModel(), plan, CPU))
    assert summary.tiles_computed == plan.store.spec.grid.n_tiles
    x = image.astype(np.float64) / 255
    expected = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
    blended = dequantise(plan.store.probability_levels()[0][...]).transpose(1, 2, 0)
    error = np.abs(blended - expected)
    stride = plan.store.spec.grid.stride
    near = lambda n: np.abs((np.arange(n) + stride // 2) % stride - stride // 2) < 32  # noqa: E731
    borders = near(300)[:, None] | near(420)[None, :]  # within a halo of a core border
    # Stored exactly up to the design's rounding: uint8 tile predictions (half a
    # step of 1/255) and uint8 results (half a step of 1/254).
    tolerance = 0.5 / 255 + 0.5 / 254 + 1e-6
    assert error[borders].max() <= tolerance
    assert error.max() <= tolerance


def test_events_report_every_tile_and_end_at_the_total(small_slide):
    slide, _ = small_slide
    plan = plan_run(slide, Workspace.open(slide.path), GridParams(tile_size=128, halo=32), TWO)
    events, summary = drain(segment(slide, PurpleModel(), plan, CPU))
    results = [e for e in events if isinstance(e, TileResult)]
    progress = [e for e in events if isinstance(e, Progress)]
    assert len(results) == len(plan.tiles) == summary.tiles_computed > 0
    assert progress[-1].done == progress[-1].total == len(plan.tiles)
    assert not summary.cancelled
    top_left = [r for r in results if r.index == (0, 0)][0]
    assert top_left.location == (0, 0) and top_left.size == (64, 64)


def test_cancel_then_resume_computes_every_tile_exactly_once(small_slide):
    slide, _ = small_slide
    workspace = Workspace.open(slide.path)
    grid = GridParams(tile_size=128, halo=32, min_tissue_fraction=-1)
    model = EchoModel()
    plan = plan_run(slide, workspace, grid, ECHO)
    first = segment(slide, model, plan, CPU)
    for event in first:
        if isinstance(event, Progress):
            break
    first.close()  # the consumer stops between batches
    done_after_cancel = plan.store.done_tiles().sum()
    assert 0 < done_after_cancel < len(plan.tiles)

    resumed = plan_run(slide, Workspace.open(slide.path), grid, ECHO)
    cancel = threading.Event()
    events, summary = drain(segment(slide, model, resumed, CPU, cancel=cancel))
    assert summary.tiles_already_done == done_after_cancel
    assert model.tiles_seen == len(plan.tiles)
    assert resumed.store.done_tiles().all()
    uninterrupted = plan_run(slide, Workspace.open(slide.path, slide.path.parent / "other"),
                             grid, ECHO)
    drain(segment(slide, EchoModel(), uninterrupted, CPU))
    assert_same_arrays(resumed.store.path, uninterrupted.store.path)


def test_cancel_event_stops_between_batches(small_slide):
    slide, _ = small_slide
    plan = plan_run(slide, Workspace.open(slide.path), GridParams(tile_size=128, halo=32,
                                                                  min_tissue_fraction=-1), ECHO)
    cancel = threading.Event()
    cancel.set()
    events, summary = drain(segment(slide, EchoModel(), plan, CPU, cancel=cancel))
    assert summary.cancelled and summary.tiles_computed == 0 and not events


def test_viewport_tiles_come_first(small_slide):
    slide, _ = small_slide
    plan = plan_run(slide, Workspace.open(slide.path), GridParams(tile_size=128, halo=32,
                                                                  min_tissue_fraction=-1), ECHO)
    view = ((128, 256), (128, 128))  # level-0 box: cores of rows 2-3, cols 4-5
    events, _ = drain(segment(slide, EchoModel(), plan, CPU, viewport=view))
    first = [e for e in events if isinstance(e, TileResult)][:4]
    assert sorted(e.index for e in first) == [(2, 4), (2, 5), (3, 4), (3, 5)]


class _OutOfMemoryOnce(EchoModel):
    def predict_logits(self, he):
        if he.shape[0] > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().predict_logits(he)


def test_out_of_memory_retries_with_smaller_batches(small_slide):
    slide, _ = small_slide
    plan = plan_run(slide, Workspace.open(slide.path), GridParams(tile_size=128, halo=32), ECHO)
    events, summary = drain(segment(slide, _OutOfMemoryOnce(), plan, CPU))
    reduced = [e for e in events if isinstance(e, BatchSizeReduced)]
    assert [e.batch_size for e in reduced] == [2]
    assert "out of memory" in reduced[0].message and summary.batch_size == 2
    assert summary.tiles_computed == len(plan.tiles)


def test_parallel_tile_reads_store_the_same_bytes(small_slide):
    """Reading a batch's tiles in 4 threads (as for a GPU) changes nothing stored."""
    slide, _ = small_slide
    grid = GridParams(tile_size=128, halo=32, min_tissue_fraction=-1)
    stores = []
    for threads in (1, 4):
        workspace = Workspace.open(slide.path, slide.path.parent / f"threads-{threads}")
        plan = plan_run(slide, workspace, grid, ECHO)
        params = SegmentParams(batch_size=4, device="cpu", publish_tiles=4, read_threads=threads)
        _, summary = drain(segment(slide, EchoModel(), plan, params))
        assert summary.tiles_computed == plan.store.spec.grid.n_tiles
        stores.append(plan.store.path)
    assert_same_arrays(*stores)
