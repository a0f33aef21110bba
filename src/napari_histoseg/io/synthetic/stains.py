"""Stains: Beer-Lambert colour from stain concentrations, with slide-to-slide variation.

Optical density OD = Σ c_s · v_s per RGB channel, and intensity I = I0 · 10^-OD
(Ruifrok & Johnston, Anal. Quant. Cytol. Histol. 23:291, 2001, for the vectors).
Concentrations are quantised to 8 bits and looked up in a 256 x 256 RGB table,
so colouring a tile is one gather of 3-byte rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HEMATOXYLIN = np.array([0.650, 0.704, 0.286])
#: Eosin: Ruifrok's vector (0.072, 0.990, 0.105) gives magenta; scanned stroma is a
#: warmer pink (about RGB 235, 160, 195), which this vector reproduces.
EOSIN = np.array([0.12, 0.86, 0.48]) / np.linalg.norm([0.12, 0.86, 0.48])
DAB = np.array([0.268, 0.570, 0.776])
#: Concentration at the top of each 8-bit quantisation range.
H_MAX, SECOND_MAX = 2.4, 2.0


@dataclass(frozen=True)
class StainTable:
    """RGB for quantised (hematoxylin, second stain) concentrations.

    ``rgb`` is (256 * 256, 3) uint8, row ``quantise(h, s)`` holding the colour, so
    colouring is one gather of rows straight into a contiguous tile.
    """

    rgb: np.ndarray

    def colour_indices(self, indices: np.ndarray) -> np.ndarray:
        """(h, w, 3) uint8 contiguous tile from (h, w) uint16 indices made by ``quantise``."""
        return np.take(self.rgb, indices, axis=0)


def quantise(hematoxylin: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(h, w) uint16 table indices of the concentrations."""
    ih = np.clip(hematoxylin * (255 / H_MAX) + 0.5, 0, 255).astype(np.uint16)
    i2 = np.clip(second * (255 / SECOND_MAX) + 0.5, 0, 255).astype(np.uint16)
    return (ih << 8) | i2


def stain_table(second_vector: np.ndarray, rng: np.random.Generator, variation: float) -> StainTable:
    """The table of one slide: stain vectors, strengths and white point varied by ``variation``."""
    vectors = [_vary(HEMATOXYLIN, rng, variation), _vary(second_vector, rng, variation)]
    strength = np.exp(rng.normal(0.0, 1.5 * variation, size=2))
    white = 250.0 - rng.uniform(0, 40 * variation + 2, size=3)
    c = np.arange(256) / 255.0
    od = ((c * H_MAX * strength[0])[:, None, None] * vectors[0]
          + (c * SECOND_MAX * strength[1])[None, :, None] * vectors[1])
    rgb = np.clip(white * 10.0 ** (-od) + 0.5, 0, 255).astype(np.uint8)
    return StainTable(np.ascontiguousarray(rgb.reshape(256 * 256, 3)))


def _vary(vector: np.ndarray, rng: np.random.Generator, variation: float) -> np.ndarray:
    varied = np.clip(vector + rng.normal(0.0, 0.4 * variation, size=3), 0.02, None)
    return varied / np.linalg.norm(varied)
