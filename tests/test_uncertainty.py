"""The review queue: entropy of the blended probabilities and heatmap-mask disagreement."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg.explain.uncertainty import block_means, pixel_entropy, review_queue
from napari_histoseg.geometry import TileGrid
from napari_histoseg.io.result_update import ResultUpdater
from napari_histoseg.io.results import ResultSpec, ResultStore

GRID = TileGrid(shape=(64, 96), downsample=2.0, tile_size=32, halo=0)  # 2 x 3 tiles


def store_with(tmp_path, name, tiles: dict[int, np.ndarray], n_classes: int) -> ResultStore:
    spec = ResultSpec(grid=GRID, slide_mpp=(0.5, 0.5),
                      class_names=tuple(f"c{i}" for i in range(n_classes)),
                      class_colors=("#000000",) * n_classes, model=name)
    store = ResultStore.create(tmp_path / f"{name}.zarr", spec)
    updater = ResultUpdater(store)
    indices = np.array(sorted(tiles))
    updater.save_tiles(indices, np.stack([tiles[i] for i in indices]))
    updater.publish(indices)
    return store


def constant(values, size=32) -> np.ndarray:
    return np.stack([np.full((size, size), v, np.uint8) for v in values])


def test_the_unsure_tile_leads_the_entropy_queue_and_the_contradicted_one_the_other(tmp_path):
    sure_normal, sure_tumour, unsure = constant([250, 5]), constant([5, 250]), constant([128, 127])
    results = store_with(tmp_path, "seg", {0: sure_normal, 1: unsure, 2: sure_tumour,
                                           3: sure_normal, 4: sure_normal}, 2)
    hot, cold = constant([255]), constant([0])
    heatmap = store_with(tmp_path, "heat", {0: cold, 1: cold, 2: hot, 3: hot, 4: cold}, 1)
    by_entropy = review_queue(results, heatmap, 1, by="entropy")
    assert by_entropy[0].tile == (0, 1) and by_entropy[0].entropy == pytest.approx(1.0, abs=1e-3)
    by_gap = review_queue(results, heatmap, 1, by="disagreement")
    assert by_gap[0].tile == (1, 0) and by_gap[0].disagreement == pytest.approx(1.0)
    assert by_gap[0].box == (64.0, 0.0, 128.0, 64.0)  # level-0 px: 32 grid px x 2
    both = review_queue(results, heatmap, 1, length=3)
    assert [item.rank for item in both] == [0, 1, 2]
    assert [item.score for item in both] == sorted((i.score for i in both), reverse=True)
    assert {item.tile for item in review_queue(results, heatmap, 1, min_score=0.0)} == {
        (0, 0), (0, 1), (0, 2), (1, 0), (1, 1)}  # tile (1, 2) was never computed
    # Tiles where the model is sure and the heatmap agrees fall below min_score.
    assert {item.tile for item in review_queue(results, heatmap, 1, min_score=0.2)} == {
        (0, 1), (1, 0)}


def test_entropy_is_zero_for_certainty_one_for_a_tie_and_nan_when_not_computed():
    p = np.array([[[1.0, 0.5, np.nan]], [[0.0, 0.5, np.nan]]])
    h = pixel_entropy(p)
    assert h[0, 0] == pytest.approx(0.0, abs=1e-5) and h[0, 1] == pytest.approx(1.0)
    assert np.isnan(h[0, 2])
    assert block_means(np.array([[1.0, 3.0, np.nan, np.nan, 5.0]]), 2, 3).tolist() == [2.0, 0.0, 5.0]
