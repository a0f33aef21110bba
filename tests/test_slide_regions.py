"""Key regions of a whole slide: the searched pyramid level and boxes in level-0 px."""

from __future__ import annotations

import numpy as np

from napari_histoseg.explain.slide_regions import search_level, slide_key_regions
from napari_histoseg.geometry import TileGrid
from napari_histoseg.io.result_update import ResultUpdater
from napari_histoseg.io.results import ResultSpec, ResultStore


def test_search_level_is_the_finest_that_fits_and_keeps_the_window_usable():
    shapes = [(20000, 20000), (10000, 10000), (5000, 5000), (2500, 2500), (1250, 1250)]
    assert search_level(shapes, 128) == 3
    assert search_level(shapes, 128, max_side=20000) == 0
    assert search_level(shapes, 16) == 1  # a smaller window stops at 8 px


def test_boxes_found_on_an_overview_level_land_on_the_hot_spot_at_level_0(tmp_path):
    grid = TileGrid(shape=(512, 512), downsample=4.0, tile_size=256, halo=0)  # 2 x 2 tiles
    spec = ResultSpec(grid=grid, slide_mpp=(0.25, 0.25), class_names=("heat",),
                      class_colors=("#ffffff",), model="heat")
    store = ResultStore.create(tmp_path / "heat.zarr", spec)
    windows = np.zeros((4, 1, 256, 256), np.uint8)
    windows[3, 0, 100:160, 60:120] = 255  # tile (1, 1): grid px y 356-416, x 316-376
    updater = ResultUpdater(store)
    updater.save_tiles(np.arange(4), windows)
    updater.publish(np.arange(4))
    (best,) = slide_key_regions(store, None, 0, window=64, max_regions=1, max_side=256)
    y0, x0, y1, x1 = best.box
    assert (y1 - y0, x1 - x0) == (256.0, 256.0)  # 64 grid px x 4 level-0 px each
    assert y0 < 386 * 4 < y1 and x0 < 346 * 4 < x1  # the hot spot's centre, in level-0 px
    assert best.mass > 0.8 * (60 * 60) / (64 * 64)  # most of the spot is inside
