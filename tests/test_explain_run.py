"""An explanation run end to end: segment, Grad-CAM through the engine, regions and queue."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg.explain.heatmap_store import open_heatmap
from napari_histoseg.explain.region_files import load_explanation
from napari_histoseg.explain.run import ExplainRequest, Phase, prepare_explain, run_explain
from napari_histoseg.io.blend import dequantise
from napari_histoseg.inference.events import Progress
from napari_histoseg.inference.session import ResolvedModel, SegmentRequest
from napari_histoseg.io.workspace import Workspace

from .conftest import drain, write_pyramid_tiff
from .explain_models import PurpleFeatureModel

PINK, PURPLE = (230, 150, 160), (150, 80, 200)


@pytest.fixture
def quadrant_slide(tmp_path):
    """1024² px at 0.5 µm/px: pink tissue, purple (tumour-like) in the bottom-left quadrant."""
    rng = np.random.default_rng(1)
    image = np.empty((1024, 1024, 3), np.uint8)
    image[...] = PINK
    image[512:, :512] = PURPLE
    image = np.clip(image + rng.integers(-8, 9, image.shape), 0, 255).astype(np.uint8)
    return write_pyramid_tiff(tmp_path / "quadrant.tif", image, levels=2, tile=128,
                              compression="zlib")


def resolved(model) -> ResolvedModel:
    return ResolvedModel(model, "purple", "", ("non-tumour", "tumour"), ("#000000", "#ff0000"),
                         None, 1.0, 128)


def request(slide, tmp_path, **extra) -> ExplainRequest:
    seg = SegmentRequest(slide_path=slide, halo=16, batch_size=4, device="cpu", publish_s=0.0,
                         out_dir=tmp_path / "ws")
    return ExplainRequest(seg, layer="features", **extra)


def test_heatmap_and_top_key_region_lie_in_the_quadrant_that_drives_the_logit(
        quadrant_slide, tmp_path):
    prepared = prepare_explain(request(quadrant_slide, tmp_path), resolved(PurpleFeatureModel()))
    events, summary = drain(run_explain(prepared))
    assert [e.name for e in events if isinstance(e, Phase)] == ["segment", "heatmap", "regions"]
    assert not summary.cancelled and summary.heatmap.tiles_computed == len(prepared.heatmap_plan.tiles)
    store = open_heatmap(Workspace.open(tmp_path / "ws"))
    heat = dequantise(store.probability_levels()[0][0][...])  # 512² at 1 µm/px
    inside = heat[256:, :256]
    outside = np.concatenate([heat[:256].ravel(), heat[256:, 256:].ravel()])
    assert np.nanmean(inside) > 0.5 and np.nanmax(outside[~np.isnan(outside)]) < 0.2
    y0, x0, y1, x1 = summary.key_regions[0].box  # level-0 px
    assert y0 >= 512 and y1 <= 1024 and x0 >= 0 and x1 <= 512
    assert (y1 - y0, x1 - x0) == (256.0, 256.0)  # 128 px at 1 µm/px, on a 0.5 µm/px slide
    regions, queue, settings = load_explanation(tmp_path / "ws")
    assert regions == summary.key_regions and queue == summary.queue
    assert settings["layer"] == "features" and settings["class_name"] == "tumour"


def test_cancel_then_resume_finishes_the_heatmap_without_redoing_tiles(quadrant_slide, tmp_path):
    prepared = prepare_explain(request(quadrant_slide, tmp_path), resolved(PurpleFeatureModel()))
    run = run_explain(prepared)
    seen_heatmap = False
    for event in run:
        seen_heatmap = seen_heatmap or (isinstance(event, Phase) and event.name == "heatmap")
        if seen_heatmap and isinstance(event, Progress):
            run.close()
            break
    partial = open_heatmap(prepared.run.workspace).done_tiles().sum()
    assert 0 < partial < len(prepared.heatmap_plan.tiles)
    again = prepare_explain(request(quadrant_slide, tmp_path), resolved(PurpleFeatureModel()))
    _, summary = drain(run_explain(again))
    assert summary.segment.tiles_computed == 0
    assert summary.heatmap.tiles_already_done == partial
    assert summary.heatmap.tiles_computed == len(again.heatmap_plan.tiles) - partial


def test_unknown_target_class_is_named(quadrant_slide, tmp_path):
    with pytest.raises(ValueError, match="unknown class 'stroma'.*non-tumour, tumour"):
        prepare_explain(request(quadrant_slide, tmp_path, target_class="stroma"),
                        resolved(PurpleFeatureModel()))
