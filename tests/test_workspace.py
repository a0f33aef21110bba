"""The results workspace: reopening, mismatched runs, the run log and OME-TIFF export."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from napari_histoseg.inference.engine import SegmentParams, segment
from napari_histoseg.inference.plan import GridParams, ModelInfo, plan_run
from napari_histoseg.io.blend import dequantise
from napari_histoseg.io.export import export_mask_ome_tiff
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.workspace import ResultStore, Workspace, WorkspaceError

from .conftest import tissue_like_rgb, write_pyramid_tiff
from .segmentation_models import PurpleModel

TWO = ModelInfo("purple", "abc123", ("normal", "tumour"), ("#000000", "#ff0000"))
GRID = GridParams(level=1, tile_size=128, halo=32)


@pytest.fixture
def segmented(tmp_path):
    """A 1024 x 768 slide (0.5 µm/px) segmented at level 1 (1 µm/px)."""
    image = tissue_like_rgb((1024, 768), seed=5)
    image[:, :200] = 255  # glass on the left
    path = write_pyramid_tiff(tmp_path / "slide.tif", image, levels=2, tile=128)
    slide = open_slide(path)
    workspace = Workspace.open(path)
    plan = plan_run(slide, workspace, GRID, TWO)
    for _ in segment(slide, PurpleModel(), plan, SegmentParams(batch_size=8, device="cpu"),
                     run_log=workspace.run_log):
        pass
    return path, plan


def test_reopening_restores_the_results(segmented):
    path, plan = segmented
    mask = plan.store.mask_levels()[0][...]
    reopened = Workspace.open(path.with_name(path.name + ".histoseg")).results()
    assert reopened.spec == plan.store.spec
    np.testing.assert_array_equal(reopened.mask_levels()[0][...], mask)
    assert reopened.scale == (1.0, 1.0)  # level-1 grid of a 0.5 µm/px slide
    assert reopened.done_tiles().ravel()[plan.tiles].all()
    # Glass beyond every tile's window is not computed; the halo of the first
    # tissue tiles reaches x = 32 and finds no tumour on glass.
    assert (mask[:, :32] == ResultStore.NOT_COMPUTED).all()
    assert (mask[:, 32:90] == 0).all() and mask[:, 110:].max() == 1
    probabilities = dequantise(reopened.probability_levels()[0][...])
    assert probabilities.shape == (2, 512, 384)
    assert np.isnan(probabilities[:, :, :32]).all() and not np.isnan(probabilities[:, :, 32:]).any()


def test_overview_levels_are_2x2_means_and_their_argmax(segmented):
    _, plan = segmented
    fine = dequantise(plan.store.probability_levels()[0][...])
    coarse = dequantise(plan.store.probability_levels()[1][...])
    blocks = fine.reshape(2, 256, 2, 192, 2)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks stay NaN
        expected = np.nanmean(blocks, axis=(2, 4))
    # the stored mean is rounded to the nearest step of 1/254
    np.testing.assert_allclose(coarse, expected, atol=0.5 / 254 + 1e-6, equal_nan=True)
    labels = plan.store.mask_levels()[1][...]
    computed = ~np.isnan(coarse[0])
    np.testing.assert_array_equal(labels[computed], coarse[:, computed].argmax(axis=0))
    assert (labels[~computed] == ResultStore.NOT_COMPUTED).all()


def test_a_run_with_another_model_does_not_mix_into_the_results(segmented):
    path, _ = segmented
    other = ModelInfo("other", "ff00", ("normal", "tumour"), ("#000000", "#ff0000"))
    with pytest.raises(WorkspaceError, match="results of another run.*--restart"):
        plan_run(open_slide(path), Workspace.open(path), GRID, other)
    fresh = plan_run(open_slide(path), Workspace.open(path), GRID, other, restart=True)
    assert not fresh.store.done_tiles().any()


def test_run_log_records_model_hash_parameters_and_timings(segmented):
    path, plan = segmented
    records = Workspace.open(path).run_log.records()
    assert [r["event"] for r in records] == ["segment-start", "segment-end"]
    end = records[-1]
    assert end["checkpoint_sha256"] == "abc123" and end["tile_size"] == 128
    assert end["tiles_computed"] == len(plan.tiles) and end["elapsed_s"] > 0


def test_ome_tiff_export_has_the_mask_and_physical_sizes(segmented, tmp_path):
    import tifffile

    _, plan = segmented
    out = export_mask_ome_tiff(plan.store, tmp_path / "mask.ome.tif", tile=128)
    with tifffile.TiffFile(out) as tif:
        assert tif.is_ome
        levels = tif.series[0].levels
        np.testing.assert_array_equal(levels[0].asarray(), plan.store.mask_levels()[0][...])
        assert len(levels) == plan.store.n_levels
        assert 'PhysicalSizeX="1.0"' in tif.ome_metadata
        assert 'PhysicalSizeXUnit="µm"' in tif.ome_metadata
