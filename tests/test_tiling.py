"""Tile grid geometry, blending weights and the viewport-first queue."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg.geometry import TileGrid, blend_weights, tiles_in_box
from napari_histoseg.inference.tiling import TileQueue


def test_grid_covers_the_image_with_cores_that_touch():
    grid = TileGrid(shape=(1000, 1500), downsample=2.0, tile_size=128, halo=16)
    rows, cols = grid.grid_shape
    assert (rows - 1) * grid.stride < 1000 <= rows * grid.stride
    assert (cols - 1) * grid.stride < 1500 <= cols * grid.stride
    (y, x), (h, w) = grid.core(rows - 1, cols - 1)
    assert (y + h, x + w) == (1000, 1500)


def test_halo_larger_than_a_quarter_tile_is_refused():
    with pytest.raises(ValueError, match="halo must lie in 0..32"):
        TileGrid(shape=(100, 100), downsample=1.0, tile_size=128, halo=40)


@pytest.mark.parametrize("halo", [0, 8, 32])
def test_overlapping_weights_sum_to_one(halo):
    tile = 128
    weights = blend_weights(tile, halo)
    stride = tile - 2 * halo
    total = np.zeros((3 * stride + 2 * halo,) * 2)
    for r in range(3):
        for c in range(3):
            total[r * stride:r * stride + tile, c * stride:c * stride + tile] += weights
    inner = total[2 * halo:-2 * halo or None, 2 * halo:-2 * halo or None]
    np.testing.assert_allclose(inner, 1.0, atol=1e-6)
    assert weights.min() > 0


def test_queue_gives_viewport_tiles_first_and_follows_a_moving_viewport():
    grid = TileGrid(shape=(1024, 1024), downsample=4.0, tile_size=128, halo=0)  # 8 x 8 tiles
    view = {"box": ((2048, 2048), (1024, 1024))}  # level-0 px: rows/cols 4-5
    queue = TileQueue(grid, np.arange(grid.n_tiles), viewport=lambda: view["box"])
    first = queue.take(4)
    assert sorted(first) == [36, 37, 44, 45]
    view["box"] = ((0, 0), (512, 1024))  # top-left: row 0, cols 0-1
    assert sorted(queue.take(2)) == [0, 1]
    taken = np.concatenate([first, [0, 1]] + [queue.take(5) for _ in range(20)])
    assert sorted(taken) == list(range(64)) and queue.remaining == 0


def test_tiles_in_box_outside_the_grid_is_empty():
    grid = TileGrid(shape=(100, 100), downsample=1.0, tile_size=32, halo=0)
    assert len(tiles_in_box(grid, ((500, 500), (10, 10)))) == 0
