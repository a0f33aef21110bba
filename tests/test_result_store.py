"""The result store: blending of disagreeing tiles, crash safety, slide identity, the lock,
not-computed pixels and the OME-Zarr metadata."""

from __future__ import annotations

import os

import numpy as np
import pytest
import zarr

from napari_histoseg._reader import get_reader, result_layer_data
from napari_histoseg.inference.engine import SegmentParams, segment
from napari_histoseg.inference.plan import GridParams, ModelInfo, plan_run
from napari_histoseg.io import results as results_module
from napari_histoseg.io.blend import dequantise
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.workspace import (ResultStore, RunLog, Workspace, WorkspaceBusyError,
                                          WorkspaceError)

from .conftest import drain, tissue_like_rgb, write_pyramid_tiff
from .segmentation_models import TileMeanModel

TWO = ModelInfo("tile-mean", "", ("normal", "tumour"), ("#000000", "#ff0000"))
GRID = GridParams(tile_size=64, halo=16, min_tissue_fraction=-1)
CPU = SegmentParams(batch_size=4, device="cpu", publish_tiles=4)


class SimulatedCrash(BaseException):
    """Stands for a kill: not an Exception, so nothing on the way catches it."""


@pytest.fixture
def slide_path(tmp_path):
    image = tissue_like_rgb((200, 232), seed=7)
    image[:, :40] = 255
    return write_pyramid_tiff(tmp_path / "case.tif", image, levels=1, tile=64,
                              compression="zlib")


def _segment(path, out=None, grid=GRID, restart=False):
    slide = open_slide(path)
    plan = plan_run(slide, Workspace.open(path, out), grid, TWO, restart=restart)
    drain(segment(slide, TileMeanModel(), plan, CPU))
    return plan


def sin2_profile(tile: int, halo: int) -> np.ndarray:
    """The blending profile the design specifies, written out independently."""
    ramp = np.sin(0.5 * np.pi * (np.arange(2 * halo) + 0.5) / (2 * halo)) ** 2
    return np.concatenate([ramp, np.ones(tile - 4 * halo), ramp[::-1]])


def test_blend_of_disagreeing_tiles_is_their_sin2_weighted_mean(slide_path):
    plan = _segment(slide_path)
    store, grid = plan.store, plan.store.spec.grid
    predictions = store.tiles[...].astype(np.float64)  # (rows, cols, C, t, t)
    assert (predictions == predictions[..., :1, :1]).all()  # constant over each tile
    tile_values = predictions[:, :, 1, 0, 0]
    assert len(np.unique(tile_values)) > grid.n_tiles // 2  # the tiles disagree
    profile = sin2_profile(grid.tile_size, grid.halo)
    weights = np.outer(profile, profile)
    total, weight = np.zeros(grid.shape), np.zeros(grid.shape)
    rows, cols = grid.grid_shape
    for r in range(rows):
        for c in range(cols):
            (y, x), (t, _) = grid.window(r, c)
            y0, x0 = max(y, 0), max(x, 0)
            y1, x1 = min(y + t, grid.shape[0]), min(x + t, grid.shape[1])
            w = weights[y0 - y:y1 - y, x0 - x:x1 - x]
            total[y0:y1, x0:x1] += w * tile_values[r, c] / 255
            weight[y0:y1, x0:x1] += w
    expected = total / weight
    stored = dequantise(store.probability_levels()[0][1])
    np.testing.assert_allclose(stored, expected, atol=0.5 / 254 + 1e-6)  # stored x 254, rounded
    inner = weight[grid.halo:-grid.halo, grid.halo:-grid.halo]
    np.testing.assert_allclose(inner, 1.0, atol=1e-6)  # the weights sum to one inside
    mask = store.mask_levels()[0][...]
    clear = np.abs(expected - 0.5) > 2**-10  # away from ties that rounding may break
    np.testing.assert_array_equal(mask[clear], (expected[clear] > 0.5).astype(np.uint8))
    assert 0 < mask.mean() < 1


def test_results_of_one_slide_are_never_mixed_into_another(slide_path, tmp_path):
    out = tmp_path / "shared-out"
    _segment(slide_path, out)
    other = write_pyramid_tiff(tmp_path / "other.tif", tissue_like_rgb((200, 232), seed=8),
                               levels=1, tile=64, compression="zlib")
    with pytest.raises(WorkspaceError, match=r"results of another slide \(.*case.tif\)"):
        _segment(other, out)
    with pytest.raises(WorkspaceError, match="another slide"):
        Workspace.open(other, out).results()
    assert Workspace.open(slide_path, out).results().done_tiles().all()  # untouched
    replaced = _segment(other, out, restart=True)  # an explicit restart rebinds the folder
    assert replaced.store.done_tiles().all()
    with pytest.raises(WorkspaceError, match="another slide"):
        Workspace.open(slide_path, out).results()


def test_a_second_run_on_a_busy_workspace_is_refused(slide_path):
    slide = open_slide(slide_path)
    plan = plan_run(slide, Workspace.open(slide_path), GRID, TWO)
    first = segment(slide, TileMeanModel(), plan, CPU)
    next(first)  # the first run is writing and holds the lock
    with pytest.raises(WorkspaceBusyError, match="another segmentation run is writing here"):
        plan_run(slide, Workspace.open(slide_path), GRID, TWO)
    second = segment(slide, TileMeanModel(), plan, CPU)
    with pytest.raises(WorkspaceBusyError):
        next(second)
    drain(first)
    assert plan.store.done_tiles().all()
    again = plan_run(slide, Workspace.open(slide_path), GRID, TWO)  # free again
    _, summary = drain(segment(slide, TileMeanModel(), again, CPU))
    assert summary.tiles_computed == 0


def test_a_crash_while_creating_the_store_leaves_the_slide_openable(slide_path, monkeypatch):
    _segment(slide_path)
    real_replace = os.replace

    def crash_before_the_new_store_is_in_place(src, dst):
        if os.path.basename(src).startswith("results.zarr.building"):
            raise SimulatedCrash("killed after the old store was moved aside")
        return real_replace(src, dst)

    monkeypatch.setattr(results_module.os, "replace", crash_before_the_new_store_is_in_place)
    with pytest.raises(SimulatedCrash):
        _segment(slide_path, restart=True)
    monkeypatch.undo()
    layers = get_reader(str(slide_path))(str(slide_path))
    assert [kind for _, _, kind in layers] == ["image"]  # the slide opens, without results
    recovered = _segment(slide_path, restart=True)
    assert recovered.store.done_tiles().all()
    leftovers = [p.name for p in recovered.store.path.parent.iterdir() if "results.zarr." in p.name]
    assert leftovers == []


def test_damaged_results_are_reported_and_restart_recovers(slide_path, monkeypatch):
    plan = _segment(slide_path)
    root = plan.store.path
    (root / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", "attrib')
    warnings = []
    monkeypatch.setattr("napari_histoseg._reader._warn", warnings.append)
    layers = get_reader(str(slide_path))(str(slide_path))
    assert [kind for _, _, kind in layers] == ["image"]
    assert "results.zarr: the results are damaged" in warnings[0]
    assert "Start over" in warnings[0]
    with pytest.raises(WorkspaceError, match="damaged.*--restart"):
        _segment(slide_path)
    assert _segment(slide_path, restart=True).store.done_tiles().all()


def test_run_log_skips_a_torn_last_line(tmp_path):
    log = RunLog(tmp_path / "runs.jsonl")
    log.append({"event": "segment-start"})
    with open(log.path, "a") as handle:
        handle.write('{"event": "segment-e')  # killed mid-write
    log.append({"event": "segment-start"})
    assert [r["event"] for r in log.records()] == ["segment-start", "segment-start"]


def test_not_computed_is_distinct_from_background_and_transparent(slide_path):
    plan = _segment(slide_path, grid=GridParams(tile_size=64, halo=16))  # glass skipped
    store = plan.store
    mask = store.mask_levels()[0][...]
    probabilities = store.probability_levels()[0][...]
    missing = mask == ResultStore.NOT_COMPUTED
    assert missing.any() and (mask[~missing] <= 1).all()
    np.testing.assert_array_equal(probabilities[0] == ResultStore.NOT_COMPUTED, missing)
    (levels, kwargs, kind), _ = result_layer_data(store, show_probability=True)
    assert kind == "image" and kwargs["rgb"]
    rgba = np.asarray(levels[0])
    assert rgba.shape == (*mask.shape, 4)
    assert (rgba[missing, 3] == 0).all() and (rgba[~missing, 3] == 255).all()
    _, labels_kwargs, _ = result_layer_data(store)[0]
    assert labels_kwargs["colormap"][ResultStore.NOT_COMPUTED] == (0.0, 0.0, 0.0, 0.0)


def test_results_are_an_ome_zarr_image_with_a_label_image(slide_path):
    store = _segment(slide_path).store
    root = zarr.open_group(store.path, mode="r")
    multiscales = root.attrs["ome"]["multiscales"][0]
    assert root.attrs["ome"]["version"] == "0.5"
    assert [a["name"] for a in multiscales["axes"]] == ["c", "y", "x"]
    paths = [d["path"] for d in multiscales["datasets"]]
    assert [root[p].shape[1:] for p in paths] == [a.shape for a in store.mask_levels()]
    scale = multiscales["datasets"][0]["coordinateTransformations"][0]["scale"]
    assert scale == [1.0, *store.scale]
    assert root["labels"].attrs["ome"]["labels"] == ["mask"]
    label = root["labels/mask"].attrs["ome"]
    colours = {c["label-value"]: c["rgba"] for c in label["image-label"]["colors"]}
    assert colours[1] == [255, 0, 0, 255] and colours[ResultStore.NOT_COMPUTED][3] == 0
    assert [root[f"labels/mask/{p}"].dtype for p in paths] == [np.uint8] * len(paths)
