"""Tissue detection on real H&E, on a blank slide, and the tile plan it gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_histoseg.geometry import TileGrid
from napari_histoseg.io.slide import open_slide
from napari_histoseg.tissue import TissueMask, detect_tissue, tiles_on_tissue, tissue_mask

from .conftest import SHARED_DATA

CAMELYON_IMAGES = SHARED_DATA / "camelyon-mini" / "images"


def _camelyon_patches() -> list[Path]:
    paths = sorted(CAMELYON_IMAGES.glob("*.jpg"))
    if not paths:
        pytest.skip(f"camelyon-mini patches not found in {CAMELYON_IMAGES}")
    return paths


def test_finds_tissue_on_every_real_he_patch():
    from skimage.io import imread

    fractions = [detect_tissue(imread(path)[..., :3]).mean() for path in _camelyon_patches()]
    assert min(fractions) > 0.5, dict(zip(_camelyon_patches(), fractions))


def test_finds_tissue_on_cmu1_but_not_the_glass(cmu_svs):
    tissue = tissue_mask(open_slide(cmu_svs), max_size=1024)
    assert 0.15 < tissue.fraction < 0.8
    # The slide's top-left corner is glass.
    assert not tissue.mask[:20, :20].any()


@pytest.mark.parametrize("noise", [0, 8])
def test_blank_white_image_has_no_tissue(noise):
    rng = np.random.default_rng(1)
    white = np.clip(247 + rng.integers(-noise, noise + 1, (300, 400, 3)), 0, 255).astype(np.uint8)
    assert not detect_tissue(white).any()


def test_tile_plan_covers_tissue_only():
    mask = np.zeros((100, 100), dtype=bool)
    mask[:50, :50] = True  # tissue in the top-left quarter
    tissue = TissueMask(mask=mask, downsample=(10.0, 10.0))  # 1000 x 1000 level-0 px
    grid = TileGrid(shape=(500, 500), downsample=2.0, tile_size=100, halo=0)  # 5 x 5 tiles
    plan = tiles_on_tissue(grid, tissue)
    rows, cols = np.divmod(plan, 5)
    assert set(zip(rows, cols)) == {(r, c) for r in range(3) for c in range(3)}
