"""The fusion network's 40x detail crops: found on the tumour, read from the finer level, fed to the model."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from napari_histoseg.geometry import TileGrid
from napari_histoseg.inference.detail_crops import DetailCrops, DetailSpec, detail_box
from napari_histoseg.inference.reader import TileReader
from napari_histoseg.io.slide import open_slide
from tests.conftest import write_pyramid_tiff

NORMALISATION = {"mean": [0.5] * 3, "std": [0.5] * 3}
#: The dark "tumour" square of the test slide, level-0 px (y0, x0, y1, x1).
SPOT = (600, 200, 700, 300)


@pytest.fixture
def spot_slide(tmp_path):
    """1024² at 0.5 µm/px (levels 1, 2, 4): white glass, a dark square, and a 1-px checkerboard
    on it that only level 0 resolves (levels 1 and 2 average it to grey)."""
    image = np.full((1024, 1024, 3), 240, np.uint8)
    y0, x0, y1, x1 = SPOT
    checker = (np.indices((y1 - y0, x1 - x0)).sum(0) % 2).astype(np.uint8)
    image[y0:y1, x0:x1] = (40 + 80 * checker)[..., None]
    return open_slide(write_pyramid_tiff(tmp_path / "spot.tif", image, compression="zlib"))


class SpotModel:
    """Stands in for the fusion network: in-situ logit high where the H&E is dark; records calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, he, detail=None, box=None, ck56=None):
        import torch

        self.calls.append((detail, box, ck56))
        dark = -he[:, :1] * 8
        return SimpleNamespace(seg=torch.cat([-dark, dark, torch.zeros_like(dark)], 1))

    def to(self, *args, **kwargs):
        return self

    def eval(self):
        return self


def test_spec_comes_from_the_model_card():
    assert DetailSpec.from_card({}) is None and DetailSpec.from_card(None) is None
    assert DetailSpec.from_card({"detail_crops": {"window": 32, "zoom": 4}}) == DetailSpec(32, 4)
    with pytest.raises(ValueError, match="zoom of 1, 2, 4 or 8"):
        DetailSpec(32, 3)


def test_key_region_lies_on_the_tumour_or_in_the_centre():
    tumour = np.zeros((96, 96), np.float32)
    tumour[60:80, 10:30] = 1
    y0, x0, y1, x1 = detail_box(tumour, 16)
    assert (y1 - y0, x1 - x0) == (16, 16) and 60 <= y0 and y1 <= 80 and 10 <= x0 and x1 <= 30
    assert detail_box(np.zeros((96, 96), np.float32), 16, origin=(5, 7)) == (45, 47, 61, 63)


def test_crops_are_read_at_the_finer_level_not_upsampled(spot_slide):
    grid = TileGrid(shape=(256, 256), downsample=4.0, tile_size=128, halo=16)
    crops = DetailCrops(spot_slide, grid, DetailSpec(window=16, zoom=4))
    assert (crops.level, crops.read_size, crops.out_size, crops.notice) == (0, 64, 64, "")
    index = 1 * grid.grid_shape[1] + 0                 # row 1, col 0: its core holds the spot
    box = (72, 68, 88, 84)
    pixels = crops.read(np.array([index]), [box])[0]
    (wy, wx), _ = grid.window(1, 0)
    expected = spot_slide.read_region(0, ((wy + 72) * 4, (wx + 68) * 4), (64, 64))
    np.testing.assert_array_equal(pixels, expected)
    assert np.ptp(pixels[8:56, 8:56].astype(int)) >= 60          # the checkerboard, resolved


def test_zoom_is_limited_and_said_when_the_slide_is_not_fine_enough(spot_slide):
    grid = TileGrid(shape=(512, 512), downsample=2.0, tile_size=128, halo=16)   # 1 µm/px analysis
    crops = DetailCrops(spot_slide, grid, DetailSpec(window=16, zoom=4))
    assert crops.level == 0 and crops.zoom == 2 and crops.read_size == 32 and crops.out_size == 64
    assert "spot.tif" in crops.notice and "only 2x finer" in crops.notice


def test_predictor_runs_twice_with_the_crop_on_the_tumour(spot_slide):
    import torch

    from napari_histoseg.inference.detail_predictor import DetailPredictor

    grid = TileGrid(shape=(256, 256), downsample=4.0, tile_size=128, halo=16)
    crops = DetailCrops(spot_slide, grid, DetailSpec(window=16, zoom=4))
    model = SpotModel()
    predictor = DetailPredictor(model, crops, "cpu", NORMALISATION, grid.tile_size, batch_size=4)
    indices = np.arange(grid.n_tiles)
    pixels = TileReader(spot_slide, grid, read_level=2).read(indices)
    probabilities, _ = predictor.predict(pixels, indices)
    assert probabilities.shape == (len(indices), 3, 128, 128)
    assert len(model.calls) == 2 * -(-len(indices) // 4)          # two passes per batch
    first, second = model.calls[0], model.calls[1]
    assert first[0] is None and first[1] is None
    detail, boxes, _ = second
    assert detail.shape == (4, 3, 64, 64) and boxes.shape == (4, 4)
    spot_tile = 1 * grid.grid_shape[1]                              # row 1, col 0
    predictor.predict(pixels[[spot_tile]], indices[[spot_tile]])
    y0, x0, y1, x1 = predictor.last_boxes[spot_tile]
    (wy, wx), _ = grid.window(1, 0)
    level0 = [(wy + y0) * 4, (wx + x0) * 4, (wy + y1) * 4, (wx + x1) * 4]
    assert SPOT[0] <= level0[0] and level0[2] <= SPOT[2] and SPOT[1] <= level0[1] and level0[3] <= SPOT[3]
    expected = spot_slide.read_region(0, tuple(level0[:2]), (64, 64)).astype(np.float32)
    sent = model.calls[-1][0][0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(sent, (expected / 255 - 0.5) / 0.5, atol=1e-5)
    with pytest.raises(ValueError, match="grid index"):
        predictor.predict(pixels[:1])
    assert torch.isfinite(torch.as_tensor(probabilities, dtype=torch.float32)).all()
