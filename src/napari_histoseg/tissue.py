"""Tissue detection on a thumbnail, and the tile plan that covers tissue only.

Following HI-Net (Pan et al., §2 and §4.2 in papers/hinet.md), the thumbnail is
converted to HSV and Otsu's method (Otsu 1979) thresholds the hue (H) and the
saturation (S) channels; the two masks are combined and then cleaned with
morphology. Two guard rails keep Otsu sensible when the thumbnail is not
bimodal (a patch that is all tissue, or a blank slide): the S threshold is
kept within ``[min_saturation, max_saturation]`` and the H threshold at or
below ``max_hue`` (H&E's pinks and purples have hue ≈ 0.75-0.97).

>>> mask = detect_tissue(thumbnail_rgb)                      # doctest: +SKIP
>>> tissue = tissue_mask(slide)                              # doctest: +SKIP
>>> plan = tiles_on_tissue(grid, tissue)                     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_histoseg.geometry import TileGrid


@dataclass(frozen=True)
class TissueParams:
    """Thresholds and clean-up sizes (sizes in thumbnail pixels)."""

    min_saturation: float = 0.08
    max_saturation: float = 0.15
    max_hue: float = 0.7
    closing_radius: int = 2
    min_object_fraction: float = 1e-3
    max_hole_fraction: float = 1e-3

    def __post_init__(self):
        if not 0 <= self.min_saturation <= self.max_saturation <= 1:
            raise ValueError("need 0 <= min_saturation <= max_saturation <= 1, got "
                             f"{self.min_saturation}, {self.max_saturation}")


@dataclass(frozen=True)
class TissueMask:
    """A boolean (h, w) mask and its scale: level-0 px per mask px along (y, x)."""

    mask: np.ndarray
    downsample: tuple[float, float]

    @property
    def fraction(self) -> float:
        """Share of the slide covered by tissue (0-1)."""
        return float(self.mask.mean()) if self.mask.size else 0.0


def detect_tissue(rgb: np.ndarray, params: TissueParams = TissueParams()) -> np.ndarray:
    """Boolean (h, w) tissue mask of an (h, w, 3) uint8 RGB image."""
    from skimage.color import rgb2hsv

    hsv = rgb2hsv(np.asarray(rgb)[..., :3])
    hue, saturation = hsv[..., 0], hsv[..., 1]
    s_threshold = np.clip(_otsu(saturation, params.min_saturation),
                          params.min_saturation, params.max_saturation)
    h_threshold = min(_otsu(hue, params.max_hue), params.max_hue)
    combined = (saturation > s_threshold) & (hue > h_threshold)
    return _clean(combined, params)


def _otsu(channel: np.ndarray, fallback: float) -> float:
    """Otsu's threshold, or ``fallback`` for a channel with a single value."""
    from skimage.filters import threshold_otsu

    if np.ptp(channel) < 1e-6:
        return fallback
    return float(threshold_otsu(channel))


def _clean(mask: np.ndarray, params: TissueParams) -> np.ndarray:
    """Close small gaps, drop specks, fill small holes."""
    from skimage.morphology import closing, disk, remove_small_holes, remove_small_objects

    if not mask.any():
        return mask
    if params.closing_radius:
        mask = closing(mask, disk(params.closing_radius))
    area = mask.size
    mask = remove_small_objects(mask, max_size=max(int(area * params.min_object_fraction), 1))
    return remove_small_holes(mask, max_size=max(int(area * params.max_hole_fraction), 1))


def tissue_mask(slide, max_size: int = 2048, params: TissueParams = TissueParams()) -> TissueMask:
    """Detect tissue on ``slide``'s thumbnail (at most ``max_size`` px on its longer side)."""
    thumbnail = slide.thumbnail(max_size)
    h0, w0 = slide.level_shapes[0]
    mask = detect_tissue(thumbnail, params)
    return TissueMask(mask=mask, downsample=(h0 / mask.shape[0], w0 / mask.shape[1]))


def tissue_fractions(grid: TileGrid, tissue: TissueMask) -> np.ndarray:
    """Share of tissue in each tile's core, as a (rows, cols) float array (0-1).

    Uses a summed-area table, so it costs O(mask pixels + tiles).
    """
    mask = tissue.mask.astype(np.int64)
    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int64)
    table[1:, 1:] = mask.cumsum(0).cumsum(1)
    boxes = grid.core_boxes_level0(np.arange(grid.n_tiles))
    dy, dx = tissue.downsample
    y0 = np.clip(np.floor(boxes[:, 0] / dy), 0, mask.shape[0]).astype(int)
    x0 = np.clip(np.floor(boxes[:, 1] / dx), 0, mask.shape[1]).astype(int)
    y1 = np.clip(np.ceil(boxes[:, 2] / dy), 0, mask.shape[0]).astype(int)
    x1 = np.clip(np.ceil(boxes[:, 3] / dx), 0, mask.shape[1]).astype(int)
    y1, x1 = np.maximum(y1, np.minimum(y0 + 1, mask.shape[0])), np.maximum(x1, np.minimum(x0 + 1, mask.shape[1]))
    counts = table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
    area = np.maximum((y1 - y0) * (x1 - x0), 1)
    return (counts / area).reshape(grid.grid_shape)


def tiles_on_tissue(grid: TileGrid, tissue: TissueMask, min_fraction: float = 0.01) -> np.ndarray:
    """Flat indices (row-major) of tiles whose core holds more than ``min_fraction`` tissue."""
    return np.flatnonzero(tissue_fractions(grid, tissue).ravel() > min_fraction)
