"""Stain normalisation (Reinhard) and stain-space colour augmentation.

Reinhard et al. 2001: each channel of the CIE L*a*b* image is standardised with
the tissue's mean and standard deviation and rescaled to a reference's. The
statistics are fitted on tissue pixels only (glass would dominate them).

torchstain normalises whole images (it fits the very image it changes); a slide
needs the steps apart: the statistics are fitted once, on the thumbnail's
tissue, and the same transform is applied to every tile, so tiles agree and no
seams appear. :class:`StainStats` is that split, with scikit-image's LAB
conversion (the tests check it against torchstain's Reinhard on whole images).
Macenko's method was tried first and dropped: on the pale and magenta-shifted
sets in ../shared/data its two stain vectors came out swapped or merged.

HED jitter (Tellez et al. 2018) and the stain densities (haematoxylin for
registration, DAB for CK5/6 edges) use scikit-image's colour deconvolution
(``rgb2hed``/``hed2rgb``, Ruifrok and Johnston 2001).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np

#: L*a*b* mean and standard deviation of tissue in the CMU-1 H&E slide (CC0, ../shared/data;
#: thumbnail at 1024 px, tissue by ``tissue.detect_tissue``),
#: the default reference that datasets and models are normalised toward.
REFERENCE_MEAN = (53.1, 25.6, -11.1)
REFERENCE_STD = (21.6, 12.9, 7.5)
MIN_PIXELS = 100


class StainError(ValueError):
    """An image whose stain statistics cannot be estimated (too little tissue)."""


@dataclass(frozen=True)
class StainStats:
    """L*a*b* channel means and standard deviations of stained tissue."""

    mean: tuple[float, float, float] = REFERENCE_MEAN
    std: tuple[float, float, float] = REFERENCE_STD

    @classmethod
    def fit(cls, rgb: np.ndarray, tissue: np.ndarray | None = None) -> StainStats:
        """Statistics of ``rgb`` ((h, w, 3) uint8) over the pixels in ``tissue`` (all if None)."""
        from skimage.color import rgb2lab

        pixels = rgb.reshape(-1, 3) if tissue is None else rgb[np.asarray(tissue, bool)]
        if len(pixels) < MIN_PIXELS:
            raise StainError(f"only {len(pixels)} tissue pixels; need at least {MIN_PIXELS}")
        lab = rgb2lab(pixels[None].astype(np.float32) / 255)[0]
        std = lab.std(axis=0)
        if np.any(std < 1e-3):
            raise StainError("the tissue has a single colour; its stains cannot be estimated")
        return cls(tuple(float(v) for v in lab.mean(axis=0)), tuple(float(v) for v in std))

    def to_dict(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict) -> StainStats:
        mean, std = np.asarray(data["mean"], float), np.asarray(data["std"], float)
        if mean.shape != (3,) or std.shape != (3,) or np.any(std <= 0):
            raise ValueError(f"stain statistics need three means and three positive stds, got {data!r}")
        return cls(tuple(mean.tolist()), tuple(std.tolist()))

    def distance(self, other: StainStats) -> float:
        """Largest per-channel difference of means, in reference standard deviations."""
        gap = np.abs(np.subtract(self.mean, other.mean)) / np.asarray(REFERENCE_STD)
        return float(gap.max())


def normalise(rgb: np.ndarray, source: StainStats,
              target: StainStats = StainStats()) -> np.ndarray:
    """``rgb`` ((..., 3) uint8) with ``source`` statistics -> uint8 with ``target``'s."""
    from skimage.color import lab2rgb, rgb2lab

    lab = rgb2lab(rgb.astype(np.float32) / 255)
    scale = np.asarray(target.std, np.float32) / np.asarray(source.std, np.float32)
    lab = (lab - np.asarray(source.mean, np.float32)) * scale + np.asarray(target.mean, np.float32)
    with warnings.catch_warnings():     # colours outside sRGB are clipped, as intended
        warnings.filterwarnings("ignore", "Conversion from CIE-LAB", UserWarning)
        rgb_out = lab2rgb(lab)
    return np.clip(rgb_out * 255 + 0.5, 0, 255).astype(np.uint8)


def hed_jitter(rgb: np.ndarray, rng: np.random.Generator, sigma: float = 0.05) -> np.ndarray:
    """Random stain variation: each HED channel scaled by 1±sigma and shifted by ±sigma of its range."""
    from skimage.color import hed2rgb, rgb2hed

    hed = rgb2hed(rgb)
    alpha = rng.uniform(1 - sigma, 1 + sigma, 3)
    beta = rng.uniform(-sigma, sigma, 3) * np.ptp(hed.reshape(-1, 3), axis=0)
    return np.clip(hed2rgb(hed * alpha + beta) * 255 + 0.5, 0, 255).astype(np.uint8)


LUT_BITS = 6


def colour_lut(source: StainStats, target: StainStats = StainStats()) -> np.ndarray:
    """The whole ``normalise(., source, target)`` map as a (64, 64, 64, 3) uint8 look-up table.

    A slide's transform is fixed once its statistics are fitted, so tiles are
    normalised by a look-up (``apply_lut``) instead of two colour-space conversions.
    Each channel is quantised to 6 bits (bin centres), an error of at most 2 levels.
    """
    levels = (np.arange(1 << LUT_BITS) << (8 - LUT_BITS)) + (1 << (7 - LUT_BITS))
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).astype(np.uint8)
    return normalise(grid, source, target)


def apply_lut(rgb: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """``rgb`` ((..., 3) uint8) through a ``colour_lut`` table."""
    shift = 8 - LUT_BITS
    return lut[rgb[..., 0] >> shift, rgb[..., 1] >> shift, rgb[..., 2] >> shift]


def stain_densities(rgb: np.ndarray, channels: tuple[int, ...] = (0, 1, 2)) -> np.ndarray:
    """(h, w, len(channels)) float32 optical densities of haematoxylin (0), eosin (1) and DAB (2).

    scikit-image's colour deconvolution (``rgb2hed``: Ruifrok and Johnston's stain
    matrix, ``skimage.color.hed_from_rgb``), computed through a 256-entry look-up of
    the per-channel log so a tile costs a few multiply-adds per pixel; negative
    densities are clipped to 0 (white glass is 0). Used for the haematoxylin that
    registration matches and the DAB of the CK5/6 edge maps.
    """
    from skimage.color import hed_from_rgb

    rgb = np.asarray(rgb)[..., :3]
    log = _log_lut()
    out = np.empty((*rgb.shape[:-1], len(channels)), np.float32)
    for k, channel in enumerate(channels):
        weights = hed_from_rgb[:, channel].astype(np.float32)
        density = log[rgb[..., 0]] * weights[0]
        density += log[rgb[..., 1]] * weights[1]
        density += log[rgb[..., 2]] * weights[2]
        out[..., k] = np.maximum(density, 0.0)
    return out


@functools.lru_cache(maxsize=1)
def _log_lut() -> np.ndarray:
    """(256,) float32 rgb2hed's per-channel term: log(max(v / 255, 1e-6)) / log(1e-6)."""
    values = np.maximum(np.arange(256) / 255.0, 1e-6)
    return (np.log(values) / np.log(1e-6)).astype(np.float32)
