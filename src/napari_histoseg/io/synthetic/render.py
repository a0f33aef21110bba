"""Rendering one tile of a section at any level, independently of every other tile.

A section (the H&E or the CK5/6) is stained compartments (regions.py), a fibre and
grain texture, and nuclei (nuclei.py), turned into colour by its stain table. The
CK5/6 section is cut from the same block but lies rotated, shifted and scaled on its
glass: its tiles are rendered in the H&E frame and resampled through the affine.
"""

from __future__ import annotations

import numpy as np

from napari_histoseg.io.synthetic import nuclei as N
from napari_histoseg.io.synthetic import regions as R
from napari_histoseg.io.synthetic import stains, textures
from napari_histoseg.io.synthetic.config import SynthConfig
from napari_histoseg.io.synthetic.layout import Layout

#: Coarsest level µm/px at which nuclei are drawn one by one; coarser levels get their mean.
STAMP_MAX_UM_PER_PX = 2.0


def _table(values: dict[int, float]) -> np.ndarray:
    table = np.zeros(R.REGION_COUNT, dtype=np.float32)
    for code, value in values.items():
        table[code] = value
    return table


# Stain concentrations outside nuclei, per region code.
HE_EOSIN = _table({R.STROMA: 0.30, R.LUMEN: 0.03, R.EPITHELIUM: 0.20, R.BASAL: 0.20,
                   R.BASAL_CIS: 0.20, R.CIS: 0.22, R.NECROSIS: 0.38, R.INVASIVE: 0.22, R.CLEFT: 0.02})
HE_HEMATOXYLIN = _table({R.STROMA: 0.02, R.EPITHELIUM: 0.10, R.BASAL: 0.06, R.BASAL_CIS: 0.06,
                         R.CIS: 0.14, R.NECROSIS: 0.16, R.INVASIVE: 0.13})
FIBRE_WEIGHT = _table({R.STROMA: 1.0, R.NECROSIS: 0.6, R.EPITHELIUM: 0.2, R.CIS: 0.2,
                       R.INVASIVE: 0.2, R.LUMEN: 0.5})
IHC_DAB = _table({R.BASAL: 0.85, R.BASAL_CIS: 0.80, R.EPITHELIUM: 0.04})
IHC_HEMATOXYLIN = _table({R.STROMA: 0.03, R.LUMEN: 0.0, R.EPITHELIUM: 0.06, R.BASAL: 0.03,
                          R.BASAL_CIS: 0.03, R.CIS: 0.07, R.NECROSIS: 0.08, R.INVASIVE: 0.07})
#: Nuclei on the counterstained IHC are paler than on H&E.
IHC_NUCLEAR_STRENGTH = 0.6
#: A fold doubles the tissue thickness: concentrations are multiplied by this.
FOLD_FACTOR = 1.8


class SectionRenderer:
    """Renders tiles of one section (``"he"`` or ``"ck56"``) of a layout."""

    def __init__(self, layout: Layout, config: SynthConfig, section: str):
        if section not in ("he", "ck56"):
            raise ValueError(f"section must be 'he' or 'ck56', not {section!r}")
        self.layout, self.config, self.section = layout, config, section
        salt = 2 if section == "he" else 3
        rng = np.random.default_rng([config.seed, salt])
        self.nucleus_salt = int(rng.integers(2**62))
        second = stains.EOSIN if section == "he" else stains.DAB
        self.table = stains.stain_table(second, rng, config.stain_variation)
        self.fibre = textures.fibre_texture(rng)
        self.grain = textures.grain_texture(rng)
        self.patches = textures.grain_texture(rng, contrast=0.25, blur_px=12.0)
        self.bank = N.SpriteBank(self.nucleus_salt)   # sprites are in pixels: one bank serves every level
        self.blur_passes = int(round(2 * config.blur**2))

    def um_per_px(self, level: int) -> float:
        return self.config.mpp * 2**level

    def grid_um(self, level: int, location: tuple[int, int], size: tuple[int, int]):
        """µm positions (y (h,), x (w,)) of the centres of a level's pixels."""
        factor = 2**level
        ys = ((location[0] + np.arange(size[0]) + 0.5) * factor - 0.5) * self.config.mpp
        xs = ((location[1] + np.arange(size[1]) + 0.5) * factor - 0.5) * self.config.mpp
        return ys, xs

    def indices(self, level: int, location: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
        """(h, w) uint16 stain-table indices of a tile, in the H&E frame."""
        pad = self.blur_passes
        location = (location[0] - pad, location[1] - pad)
        size = (size[0] + 2 * pad, size[1] + 2 * pad)
        hematoxylin, second = self._concentrations(level, location, size)
        if pad:
            hematoxylin, second = _binomial_blur(hematoxylin, pad), _binomial_blur(second, pad)
        return stains.quantise(hematoxylin, second)

    def _concentrations(self, level, location, size) -> tuple[np.ndarray, np.ndarray]:
        ys, xs = self.grid_um(level, location, size)
        codes, tissue = R.region_grid(self.layout, ys, xs)
        edge = np.clip(tissue * np.float32(4.0), 0.0, 1.0)
        grain = self.grain.window(location, size)
        if self.section == "he":
            # eosin * (1 + weight * (fibre - 1)) = eosin * (1 - weight) + eosin * weight * fibre
            second = np.take(HE_EOSIN * FIBRE_WEIGHT, codes) * self.fibre.window(location, size)
            second += np.take(HE_EOSIN * (1.0 - FIBRE_WEIGHT), codes)
            second *= grain
            second *= edge
            hematoxylin = np.take(HE_HEMATOXYLIN, codes) * grain
        else:
            second = np.take(IHC_DAB, codes) * self.patches.window(location, size)
            second *= grain
            hematoxylin = np.take(IHC_HEMATOXYLIN, codes) * grain
            hematoxylin *= edge
        hematoxylin += self._nuclei(level, location, size, codes, grain)
        if self.section == "he" and len(self.layout.folds):
            thickness = self._fold_thickness(ys, xs)
            if thickness is not None:
                hematoxylin *= thickness
                second *= thickness
        return hematoxylin, second

    def _nuclei(self, level, location, size, codes, grain) -> np.ndarray:
        strength = 1.0 if self.section == "he" else IHC_NUCLEAR_STRENGTH
        um = self.um_per_px(level)
        if um > STAMP_MAX_UM_PER_PX:
            return N.mean_nuclear_density()[codes].astype(np.float32) * grain * strength
        origin = ((location[0] * 2**level - 0.5 * (2**level - 1)) * self.config.mpp,
                  (location[1] * 2**level - 0.5 * (2**level - 1)) * self.config.mpp)
        found = N.place_nuclei(self.layout, self.nucleus_salt, origin,
                               (size[0] * um, size[1] * um), um)
        found.darkness = found.darkness * strength
        return N.stamp(found, self.bank, size)

    def _fold_thickness(self, ys, xs) -> np.ndarray | None:
        """(h, w) float32 tissue thickness (1, or FOLD_FACTOR on a fold) or None if no fold is near."""
        thickness = None
        for y, x, angle, half_width in self.layout.folds:
            along_y = ((ys - y) * np.cos(angle)).astype(np.float32)[:, None]
            along_x = ((xs - x) * np.sin(angle)).astype(np.float32)[None, :]
            along = np.abs(along_y + along_x)
            if along.min() >= half_width:
                continue
            band = (along < half_width) * np.float32(FOLD_FACTOR - 1.0)
            thickness = 1.0 + band if thickness is None else thickness + band
        return thickness

    def rgb(self, level: int, location: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
        """(h, w, 3) uint8 tile of this section, in the H&E frame."""
        return self.table.colour_indices(self.indices(level, location, size))


def _binomial_blur(image: np.ndarray, passes: int) -> np.ndarray:
    """``passes`` rounds of a [1, 2, 1]/4 filter on both axes, cropping one pixel a side per round."""
    for _ in range(passes):
        image = 0.25 * image[:-2] + 0.5 * image[1:-1] + 0.25 * image[2:]
        image = 0.25 * image[:, :-2] + 0.5 * image[:, 1:-1] + 0.25 * image[:, 2:]
    return image
