"""Periodic noise textures, cut into tiles at any offset: stroma fibres and grain.

A texture is a P x P periodic float32 array made once per section; a tile takes the
window at its own pixel offset, so neighbouring tiles continue each other.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

PERIOD = 1024
ORIENTATIONS = 6


class PeriodicTexture:
    """A P x P periodic texture, mean 1; ``window`` cuts any (h, w) piece of its plane."""

    def __init__(self, values: np.ndarray):
        self.period = values.shape[0]
        self._doubled = np.tile(values.astype(np.float32), (2, 2))

    def window(self, location: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
        """(h, w) float32 values at rows y0..y0+h, cols x0..x0+w of the infinite plane."""
        (y0, x0), (h, w), p = location, size, self.period
        if h <= p and w <= p:
            return self._doubled[y0 % p: y0 % p + h, x0 % p: x0 % p + w]
        rows, cols = (y0 + np.arange(h)) % p, (x0 + np.arange(w)) % p
        return self._doubled[rows][:, cols]


def fibre_texture(rng: np.random.Generator, period: int = PERIOD, contrast: float = 0.5) -> PeriodicTexture:
    """Wavy collagen-like streaks whose direction drifts across the plane."""
    noise = np.fft.rfft2(rng.standard_normal((period, period)))
    fy = np.fft.fftfreq(period)[:, None]
    fx = np.fft.rfftfreq(period)[None, :]
    radius = np.hypot(fy, fx) + 1e-9
    bands, weights = [], []
    for k in range(ORIENTATIONS):
        theta = k * np.pi / ORIENTATIONS
        along = fy * np.cos(theta) - fx * np.sin(theta)         # frequency along the streaks' normal
        across = fy * np.sin(theta) + fx * np.cos(theta)
        response = np.exp(-(along / 0.06) ** 2 - (across / 0.006) ** 2) * (radius > 0.004)
        band = np.fft.irfft2(noise * response, s=(period, period))
        bands.append(band / band.std())
        coarse = _smooth_periodic(rng, 64, 10)
        weights.append(ndimage.zoom(coarse, period / 64, order=1, mode="grid-wrap"))
    weights = np.exp(4 * np.array(weights))
    mixed = (np.array(bands) * weights).sum(0) / weights.sum(0)
    mixed = mixed / mixed.std()
    return PeriodicTexture(np.clip(1.0 + contrast * 0.5 * mixed, 0.15, 2.0))


def grain_texture(rng: np.random.Generator, period: int = PERIOD, contrast: float = 0.12,
                  blur_px: float = 1.0) -> PeriodicTexture:
    """Fine mottling, about ``blur_px`` in size, mean 1, standard deviation ``contrast``."""
    noise = np.fft.rfft2(rng.standard_normal((period, period)))
    f2 = np.fft.fftfreq(period)[:, None] ** 2 + np.fft.rfftfreq(period)[None, :] ** 2
    field = np.fft.irfft2(noise * np.exp(-2 * np.pi**2 * blur_px**2 * f2), s=(period, period))
    return PeriodicTexture(1.0 + contrast * field / field.std())


def _smooth_periodic(rng: np.random.Generator, period: int, cycles: int) -> np.ndarray:
    """A periodic field with about ``cycles`` blobs across, unit standard deviation."""
    noise = np.fft.fft2(rng.standard_normal((period, period)))
    f = np.hypot(np.fft.fftfreq(period)[:, None], np.fft.fftfreq(period)[None, :]) * period
    field = np.fft.ifft2(noise * np.exp(-(f / cycles) ** 2)).real
    return field / field.std()
