"""The tissue's geometry, laid out once from the seed: islands, ducts, nests, folds.

Everything here is in µm in the H&E level-0 frame. Rendering any tile at any level
only looks things up in this layout, so a 100,000² slide's layout is a 1024² raster
and a few thousand outlines, never a full-resolution image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_histoseg.io.synthetic import shapes
from napari_histoseg.io.synthetic.config import SynthConfig
from napari_histoseg.io.synthetic.shapes import Ellipses

#: Basal/myoepithelial layer thickness, µm.
BASAL_UM = 7.0
#: Largest raster side of the tissue field.
TISSUE_RASTER = 1024


@dataclass(frozen=True)
class Layout:
    """Geometry of one tissue block (shared by its H&E and CK5/6 sections).

    Attributes:
        size_um: (h, w) of the slide in µm.
        tissue: (gh, gw) float32 raster; > 0 inside tissue, about 1 deep inside.
        tissue_step_um: µm between raster samples (sample (i, j) sits at (i, j) * step).
        ducts: normal ducts/acini and in-situ ducts (outer edge = basal layer's outside).
        duct_is_cis: (n_ducts,) bool.
        duct_epithelium_um: (n_ducts,) thickness of the luminal epithelium of normal ducts.
        duct_necrosis: (n_ducts,) depth fraction of central comedo necrosis (0 = none).
        nests: invasive tumour nests (no basal layer).
        folds: (n, 4) rows of (y µm, x µm, normal angle, half width µm) for H&E folds.
    """

    size_um: tuple[float, float]
    tissue: np.ndarray
    tissue_step_um: float
    ducts: Ellipses
    duct_is_cis: np.ndarray
    duct_epithelium_um: np.ndarray
    duct_necrosis: np.ndarray
    nests: Ellipses
    folds: np.ndarray


class _Placer:
    """Rejection sampling of non-overlapping circles inside tissue."""

    def __init__(self, rng: np.random.Generator, field: np.ndarray, step: float,
                 size_um: tuple[float, float], border_um: float):
        self.rng, self.field, self.step = rng, field, step
        self.size_um, self.border = size_um, border_um
        self.centres = np.zeros((0, 2))
        self.radii = np.zeros(0)

    def fits(self, y: float, x: float, r: float, gap: float) -> bool:
        h, w = self.size_um
        if not (self.border + r < y < h - self.border - r and self.border + r < x < w - self.border - r):
            return False
        if self.field[int(y / self.step), int(x / self.step)] < 0.1:
            return False
        if len(self.radii):
            d = np.hypot(self.centres[:, 0] - y, self.centres[:, 1] - x)
            if np.any(d < self.radii + r + gap):
                return False
        return True

    def add(self, y: float, x: float, r: float) -> None:
        self.centres = np.vstack([self.centres, [y, x]])
        self.radii = np.append(self.radii, r)

    def random_point(self, centre=None, spread: float = 0.0) -> tuple[float, float]:
        if centre is None:
            h, w = self.size_um
            return self.rng.uniform(0, h), self.rng.uniform(0, w)
        angle, dist = self.rng.uniform(0, 2 * np.pi), spread * np.sqrt(self.rng.uniform())
        return centre[0] + dist * np.sin(angle), centre[1] + dist * np.cos(angle)


def make_layout(config: SynthConfig) -> Layout:
    """Lay out the tissue block of ``config`` (deterministic in config.seed)."""
    rng = np.random.default_rng([config.seed, 1])
    size_um = config.size_um
    step = max(8.0, max(size_um) / TISSUE_RASTER)
    border = max(0.05 * min(size_um), config.max_shift_um * 2 + 0.04 * min(size_um))
    field = _tissue_field(rng, size_um, step, border)
    placer = _Placer(rng, field, step, size_um, border)
    tissue_mm2 = float((field > 0).sum()) * step**2 / 1e6
    ducts, cis, epithelium, necrosis, nests = [], [], [], [], []
    for centre in _zone_centres(placer, tissue_mm2, min(size_um)):
        zone_radius = min(900.0, 0.28 * min(size_um))
        _place_cis(placer, rng, centre, zone_radius, ducts, cis, epithelium, necrosis)
        nests.extend(_place_nests(placer, rng, centre, zone_radius))
    _place_normal(placer, rng, tissue_mm2, ducts, cis, epithelium, necrosis)
    duct_shapes, nest_shapes = shapes.stack(ducts), shapes.stack(nests)
    _ensure_tissue(field, step, duct_shapes, nest_shapes)
    return Layout(size_um=size_um, tissue=field.astype(np.float32), tissue_step_um=step,
                  ducts=duct_shapes, duct_is_cis=np.array(cis, dtype=bool),
                  duct_epithelium_um=np.array(epithelium, dtype=float),
                  duct_necrosis=np.array(necrosis, dtype=float), nests=nest_shapes,
                  folds=_folds(rng, size_um, config.folds))


def _tissue_field(rng, size_um, step, border) -> np.ndarray:
    """Smooth noise thresholded into islands, tapered to nothing at the slide's border."""
    gh, gw = int(size_um[0] / step) + 2, int(size_um[1] / step) + 2
    scale = np.clip(0.25 * min(size_um), 250.0, 2500.0) / step
    coarse = ndimage.gaussian_filter(rng.normal(size=(gh, gw)), scale, mode="wrap")
    fine = ndimage.gaussian_filter(rng.normal(size=(gh, gw)), scale / 5, mode="wrap")
    field = coarse / coarse.std() + 0.3 * fine / fine.std()
    yy, xx = np.mgrid[:gh, :gw] * step
    half_h, half_w = size_um[0] / 2 - border, size_um[1] / 2 - border
    radius = np.hypot((yy - size_um[0] / 2) / half_h, (xx - size_um[1] / 2) / half_w)
    field = field + 1.2 - 5.0 * np.clip((radius - 0.75) / 0.25, 0, None) ** 2
    return np.clip(field, -2.0, 2.0)


def _zone_centres(placer: _Placer, tissue_mm2: float, side_um: float) -> list[tuple[float, float]]:
    count = max(1, round(tissue_mm2 / 30.0))
    zone_radius = min(900.0, 0.28 * side_um)
    centres: list[tuple[float, float]] = []
    for _ in range(400 * count):
        if len(centres) == count:
            break
        y, x = placer.random_point()
        far = all(np.hypot(y - cy, x - cx) > 2.5 * zone_radius for cy, cx in centres)
        if far and placer.fits(y, x, 0.5 * zone_radius, 0.0):
            centres.append((y, x))
    return centres


def _place_cis(placer, rng, centre, zone_radius, ducts, cis, epithelium, necrosis) -> None:
    wanted = max(1, round(rng.integers(2, 6) * min(1.0, (zone_radius / 900) ** 2)))
    placed = 0
    for _ in range(200 * wanted):
        if placed == wanted:
            break
        radius = rng.uniform(90, 190) * min(1.0, zone_radius / 500)
        radius = max(radius, 60.0)
        y, x = placer.random_point(centre, 0.55 * zone_radius) if placed else centre
        if placer.fits(y, x, radius * 1.3, 40.0):
            placer.add(y, x, radius * 1.3)
            ducts.append(shapes.random_ellipses(rng, y, x, radius, rng.uniform(1, 1.35),
                                                rng.uniform(0, np.pi), 0.08))
            cis.append(True)
            epithelium.append(0.0)
            necrosis.append(rng.uniform(0.35, 0.55) if rng.uniform() < 0.4 else 0.0)
            placed += 1


def _place_nests(placer, rng, centre, zone_radius) -> list[Ellipses]:
    """Cords of irregular nests that walk out of the zone's centre."""
    nests = []
    for _ in range(int(rng.integers(8, 14))):
        for _ in range(30):
            y, x = placer.random_point(centre, 0.8 * zone_radius)
            if placer.fits(y, x, 40.0, 12.0):
                break
        heading = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.integers(3, 9))):
            length, width = rng.uniform(18, 60), rng.uniform(12, 28)
            reach = max(length, width) * 1.25
            inside = np.hypot(y - centre[0], x - centre[1]) < zone_radius
            if inside and placer.fits(y, x, reach, 12.0):
                placer.add(y, x, reach)
                nests.append(shapes.random_ellipses(rng, y, x, np.sqrt(length * width),
                                                    length / width, heading + rng.normal(0, 0.3), 0.22))
            heading += rng.normal(0, 0.5)
            hop = 2 * length + rng.uniform(15, 45)
            y, x = y + hop * np.sin(heading), x + hop * np.cos(heading)
    return nests


def _place_normal(placer, rng, tissue_mm2, ducts, cis, epithelium, necrosis) -> None:
    """Lobules of small acini around a terminal duct, and single larger ducts."""
    lobules = max(1, round(tissue_mm2 / 2.0))
    for _ in range(lobules):
        for _ in range(60):
            y, x = placer.random_point()
            if placer.fits(y, x, 60.0, 40.0):
                break
        else:
            continue
        for index in range(int(rng.integers(5, 12))):
            radius = rng.uniform(50, 75) if index == 0 else rng.uniform(28, 48)
            for _ in range(30):
                cy, cx = (y, x) if index == 0 else placer.random_point((y, x), 200.0)
                if placer.fits(cy, cx, radius + 4, 12.0):
                    placer.add(cy, cx, radius + 4)
                    ducts.append(shapes.random_ellipses(rng, cy, cx, radius, rng.uniform(1, 1.3),
                                                        rng.uniform(0, np.pi), 0.06))
                    cis.append(False)
                    epithelium.append(rng.uniform(10, 14))
                    necrosis.append(0.0)
                    break


def _ensure_tissue(field: np.ndarray, step: float, *outlines: Ellipses) -> None:
    """Raise the tissue field around every outline, so none pokes out of the tissue."""
    for group in outlines:
        for cy, cx, reach in zip(group.cy, group.cx, group.reach):
            r = reach + 60.0
            i0, i1 = max(int((cy - r) / step), 0), int((cy + r) / step) + 2
            j0, j1 = max(int((cx - r) / step), 0), int((cx + r) / step) + 2
            yy, xx = np.mgrid[i0:i1, j0:j1] * step
            inside = np.clip(1.5 * (1.0 - np.hypot(yy - cy, xx - cx) / r), 0, 1.0)
            window = field[i0:i1, j0:j1]
            window[...] = np.maximum(window, inside[: window.shape[0], : window.shape[1]])


def _folds(rng, size_um, count: int) -> np.ndarray:
    h, w = size_um
    rows = [(rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w, rng.uniform(0, np.pi),
             rng.uniform(30, 90)) for _ in range(count)]
    return np.array(rows, dtype=float).reshape(count, 4)
