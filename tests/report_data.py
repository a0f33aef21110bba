"""Workspaces whose results hold a mask the test draws: lesions of known size."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_histoseg.geometry import TileGrid
from napari_histoseg.io.results import ResultSpec, ResultStore

TWO_CLASSES = (("non-tumour", "tumour"), ("#000000", "#ff0000"))
FUSION_CLASSES = (("background", "carcinoma in situ", "invasive carcinoma"),
                  ("#000000", "#ffcc00", "#ff0000"))


def disc(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    """(h, w) bool: pixels whose centre lies within ``radius`` px of ``centre`` (y, x)."""
    y, x = np.mgrid[: shape[0], : shape[1]] + 0.5
    return (y - centre[0]) ** 2 + (x - centre[1]) ** 2 <= radius**2


def write_results(workspace: Path, mask: np.ndarray, mpp: float | tuple[float, float] = 1.0,
                  downsample: float = 1.0, classes=TWO_CLASSES, tile_size: int = 128,
                  model: str = "test-model", model_sha256: str = "ab" * 32) -> ResultStore:
    """A workspace folder whose results' level 0 is ``mask`` (uint8 class ids, 255 = not
    computed) at ``downsample`` slide px per mask px; overview levels by 2 x 2 subsampling."""
    mpp = (mpp, mpp) if np.isscalar(mpp) else tuple(mpp)
    grid = TileGrid(shape=mask.shape, downsample=downsample, tile_size=tile_size,
                    halo=tile_size // 8)
    spec = ResultSpec(grid=grid, slide_mpp=mpp, class_names=classes[0],
                      class_colors=classes[1], model=model, model_sha256=model_sha256)
    workspace.mkdir(parents=True, exist_ok=True)
    store = ResultStore.create(workspace / "results.zarr", spec)
    for level, array in enumerate(store.mask_levels()):
        step = 2**level
        array[...] = mask[::step, ::step][: array.shape[0], : array.shape[1]]
    return store
