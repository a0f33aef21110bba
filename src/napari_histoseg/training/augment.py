"""Training augmentation on (image, mask) pairs: geometry, scale, stain and colour.

Real slides differ from any small training set in stain, scanner and
magnification, so the defaults are strong: flips and 90° turns, random scale
(0.8-1.25, resampled with scikit-image), HED stain jitter (``stain.hed_jitter``),
brightness/contrast, and occasional Gaussian blur (out-of-focus scans).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_histoseg.stain import hed_jitter


@dataclass(frozen=True)
class AugmentParams:
    """Strengths; 0 or False turns a step off."""

    flips: bool = True
    scale: tuple[float, float] = (0.8, 1.25)
    hed_sigma: float = 0.05
    brightness: float = 0.1
    contrast: float = 0.15
    blur_probability: float = 0.2
    blur_sigma: tuple[float, float] = (0.5, 1.5)

    def __post_init__(self):
        object.__setattr__(self, "scale", tuple(self.scale))
        object.__setattr__(self, "blur_sigma", tuple(self.blur_sigma))
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {self.scale}")


NO_AUGMENT = AugmentParams(flips=False, scale=(1.0, 1.0), hed_sigma=0, brightness=0, contrast=0,
                           blur_probability=0)


def augment(image: np.ndarray, mask: np.ndarray, params: AugmentParams,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(h, w, 3) uint8 image and (h, w) uint8 mask -> augmented pair (shape may change with scale)."""
    image, mask = _rescale(image, mask, rng.uniform(*params.scale))
    if params.flips:
        turns = int(rng.integers(4))
        image, mask = np.rot90(image, turns), np.rot90(mask, turns)
        if rng.random() < 0.5:
            image, mask = image[:, ::-1], mask[:, ::-1]
    if params.hed_sigma:
        image = hed_jitter(np.ascontiguousarray(image), rng, params.hed_sigma)
    image = _brightness_contrast(image, rng, params.brightness, params.contrast)
    if rng.random() < params.blur_probability:
        image = _blur(image, rng.uniform(*params.blur_sigma))
    return np.ascontiguousarray(image), np.ascontiguousarray(mask)


def random_crop(image: np.ndarray, mask: np.ndarray, size: int, rng: np.random.Generator,
                ignore_index: int = 255) -> tuple[np.ndarray, np.ndarray]:
    """A ``size`` x ``size`` crop; smaller images are padded (white image, ``ignore_index`` mask)."""
    pad_y, pad_x = max(size - image.shape[0], 0), max(size - image.shape[1], 0)
    if pad_y or pad_x:
        image = np.pad(image, ((0, pad_y), (0, pad_x), (0, 0)), constant_values=255)
        mask = np.pad(mask, ((0, pad_y), (0, pad_x)), constant_values=ignore_index)
    y = int(rng.integers(image.shape[0] - size + 1))
    x = int(rng.integers(image.shape[1] - size + 1))
    return image[y:y + size, x:x + size], mask[y:y + size, x:x + size]


def _rescale(image: np.ndarray, mask: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    if abs(factor - 1) < 0.02:
        return image, mask
    from skimage.transform import resize

    shape = (max(int(image.shape[0] * factor), 8), max(int(image.shape[1] * factor), 8))
    scaled = resize(image, shape, order=1, preserve_range=True, anti_aliasing=factor < 1)
    labels = resize(mask, shape, order=0, preserve_range=True, anti_aliasing=False)
    return scaled.astype(np.uint8), labels.astype(np.uint8)


def _brightness_contrast(image: np.ndarray, rng: np.random.Generator, brightness: float,
                         contrast: float) -> np.ndarray:
    if not brightness and not contrast:
        return image
    gain = rng.uniform(1 - contrast, 1 + contrast)
    shift = rng.uniform(-brightness, brightness) * 255
    mean = image.mean()
    return np.clip((image - mean) * gain + mean + shift, 0, 255).astype(np.uint8)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.filters import gaussian

    return (gaussian(image, sigma=sigma, channel_axis=-1, preserve_range=True) + 0.5).astype(np.uint8)
