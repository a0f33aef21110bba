"""Nuclei: placed per grid cell from counter-based random numbers, stamped as sprites.

Each 7 µm cell of the slide may hold one nucleus. Whether it does, and its offset,
size, shape, angle and darkness, come from the cell's key and from the compartment
at its centre, so any tile at any level draws the same nuclei at its seams. The
hematoxylin optical density of the nuclei is stamped with one ``np.bincount``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from napari_histoseg.io.synthetic import regions as R
from napari_histoseg.io.synthetic.hashing import cell_keys, uniforms
from napari_histoseg.io.synthetic.layout import Layout

CELL_UM = 7.0
ASPECTS = np.array([1.0, 1.25, 1.5, 2.0, 2.6, 3.4])
ANGLES = 12
VARIANTS = 4
RANDOM, TANGENTIAL, RADIAL = 0, 1, 2

# per region code: accept, r_min, r_max (µm, equal-area radius), aspect_min, aspect_max,
# orientation, darkness_min, darkness_max
_TABLE = np.zeros((R.REGION_COUNT, 8))
_TABLE[R.STROMA] = (0.10, 2.2, 3.0, 1.6, 3.4, RANDOM, 0.75, 1.0)
_TABLE[R.EPITHELIUM] = (0.85, 2.7, 3.4, 1.2, 1.6, RADIAL, 0.6, 0.8)
_TABLE[R.BASAL] = (0.75, 2.5, 3.1, 2.0, 2.6, TANGENTIAL, 0.7, 0.9)
_TABLE[R.BASAL_CIS] = _TABLE[R.BASAL]
_TABLE[R.CIS] = (0.8, 3.6, 6.0, 1.0, 1.6, RANDOM, 0.85, 1.35)
_TABLE[R.NECROSIS] = (0.35, 0.9, 2.0, 1.0, 1.3, RANDOM, 1.1, 1.5)
_TABLE[R.INVASIVE] = (0.85, 3.4, 5.4, 1.0, 1.6, RANDOM, 0.85, 1.3)


def mean_nuclear_density() -> np.ndarray:
    """(REGION_COUNT,) mean nuclear hematoxylin OD per region, for levels too coarse to stamp."""
    accept, r0, r1, _, _, _, d0, d1 = _TABLE.T
    return accept * np.pi * ((r0 + r1) / 2) ** 2 / CELL_UM**2 * (d0 + d1) / 2


@dataclass
class Nuclei:
    """Nuclei of one tile: centres in tile pixels and sprite parameters."""

    y: np.ndarray
    x: np.ndarray
    radius_px: np.ndarray
    aspect_bin: np.ndarray
    angle_bin: np.ndarray
    variant: np.ndarray
    darkness: np.ndarray


def place_nuclei(layout: Layout, salt: int, origin_um: tuple[float, float],
                 size_um: tuple[float, float], um_per_px: float) -> Nuclei:
    """The nuclei whose centres fall in the µm box ``origin_um`` + ``size_um`` (+ one cell).

    ``salt`` tells sections apart (serial sections hold different nuclei).
    """
    y0, x0 = origin_um
    rows = np.arange(int(np.floor(y0 / CELL_UM)) - 1, int(np.ceil((y0 + size_um[0]) / CELL_UM)) + 1)
    cols = np.arange(int(np.floor(x0 / CELL_UM)) - 1, int(np.ceil((x0 + size_um[1]) / CELL_UM)) + 1)
    keys = cell_keys(salt, rows[:, None], cols[None, :]).ravel()
    u = uniforms(keys, 8)
    cy = (np.repeat(rows, len(cols)) + u[1]) * CELL_UM
    cx = (np.tile(cols, len(rows)) + u[2]) * CELL_UM
    codes, polar = R.region_points(layout, cy, cx)
    params = _TABLE[codes]
    keep = u[0] < params[:, 0]
    u, cy, cx, polar, params = u[:, keep], cy[keep], cx[keep], polar[keep], params[keep]
    radius = params[:, 1] + (params[:, 2] - params[:, 1]) * u[3]
    aspect = params[:, 3] + (params[:, 4] - params[:, 3]) * u[4]
    angle = np.where(params[:, 5] == RANDOM, u[5] * np.pi,
                     np.nan_to_num(polar) + np.where(params[:, 5] == TANGENTIAL, np.pi / 2, 0.0))
    darkness = params[:, 6] + (params[:, 7] - params[:, 6]) * u[6]
    return Nuclei(y=(cy - y0) / um_per_px, x=(cx - x0) / um_per_px,
                  radius_px=radius / um_per_px,
                  aspect_bin=np.abs(ASPECTS[None, :] - aspect[:, None]).argmin(axis=1),
                  angle_bin=np.round(angle % np.pi / np.pi * ANGLES).astype(np.int64) % ANGLES,
                  variant=(u[7] * VARIANTS).astype(np.int64), darkness=darkness)


@dataclass
class SpriteBank:
    """Nucleus sprites (hematoxylin OD, peak about 1) built on demand and kept."""

    seed: int
    sprites: dict = field(default_factory=dict)

    def get(self, radius_half_px: int, aspect_bin: int, angle_bin: int, variant: int) -> np.ndarray:
        key = (radius_half_px, aspect_bin, angle_bin, variant)
        sprite = self.sprites.get(key)
        if sprite is None:
            sprite = self.sprites[key] = _draw_sprite(self.seed, *key)
        return sprite

    def pack(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(flat float32 pixels of the sprites of packed ``keys`` end to end, (n,) start
        of each, (n,) side of each); a key packs (radius_half_px, aspect_bin, angle_bin, variant)."""
        sprites = []
        for key in keys.tolist():
            key, variant = divmod(key, VARIANTS)
            key, angle_bin = divmod(key, ANGLES)
            radius_half_px, aspect_bin = divmod(key, len(ASPECTS))
            sprites.append(self.get(radius_half_px, aspect_bin, angle_bin, variant))
        sides = np.array([sprite.shape[0] for sprite in sprites], dtype=np.int64)
        sizes = sides * sides
        return (np.concatenate([sprite.ravel() for sprite in sprites]), np.cumsum(sizes) - sizes, sides)


def _draw_sprite(seed, radius_half_px, aspect_bin, angle_bin, variant) -> np.ndarray:
    """An elliptical nucleus, soft-edged, with a darker rim and chromatin grain."""
    radius = radius_half_px / 2
    aspect = ASPECTS[aspect_bin]
    major, minor = radius * np.sqrt(aspect), radius / np.sqrt(aspect)
    half = int(np.ceil(major + 1.5))
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    theta = angle_bin * np.pi / ANGLES
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = yy * np.cos(theta) - xx * np.sin(theta)
    rho = np.sqrt((u / major) ** 2 + (v / minor) ** 2)
    edge = np.clip((1.0 - rho) * minor + 0.5, 0.0, 1.0)       # about one pixel of anti-aliasing
    rim = 0.8 + 0.35 * np.clip(rho, 0, 1) ** 3
    rng = np.random.default_rng([seed, radius_half_px, aspect_bin, angle_bin, variant])
    grain = 1.0 + 0.25 * rng.standard_normal(edge.shape) * min(1.0, radius / 3)
    return (edge * rim * grain).astype(np.float32)


def stamp(nuclei: Nuclei, bank: SpriteBank, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) float32 hematoxylin OD of ``nuclei`` drawn on a tile of ``shape``.

    Vectorised: the distinct sprites of the tile are packed into one flat array, every
    nucleus's pixels are expanded with ``np.repeat``, and one ``np.bincount`` sums them.
    """
    h, w = shape
    if not len(nuclei.y):
        return np.zeros(shape, dtype=np.float32)
    margin = int(np.ceil(nuclei.radius_px.max() * np.sqrt(ASPECTS[-1]) + 3))
    hp, wp = h + 2 * margin, w + 2 * margin
    radius_half = np.maximum(np.rint(nuclei.radius_px * 2), 1).astype(np.int64)
    keys = ((radius_half * len(ASPECTS) + nuclei.aspect_bin) * ANGLES + nuclei.angle_bin) * VARIANTS \
        + nuclei.variant
    unique, which = np.unique(keys, return_inverse=True)
    pool, starts, sides = bank.pack(unique)
    side = sides[which]
    half = side // 2
    iy = np.rint(nuclei.y).astype(np.int64) + margin
    ix = np.rint(nuclei.x).astype(np.int64) + margin
    inside = (half <= iy) & (iy < hp - half) & (half <= ix) & (ix < wp - half)
    if not inside.any():
        return np.zeros(shape, dtype=np.float32)
    side, half, start = side[inside], half[inside], starts[which[inside]]
    corner = (iy[inside] - half) * wp + (ix[inside] - half)
    counts = side * side
    owner = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    local = np.arange(int(counts.sum()), dtype=np.int64) - first[owner]
    row, col = np.divmod(local, side[owner])
    index = corner[owner] + row * wp + col
    weights = pool[start[owner] + local] * nuclei.darkness[inside].astype(np.float32)[owner]
    canvas = np.bincount(index, weights, minlength=hp * wp)
    return canvas.reshape(hp, wp)[margin:margin + h, margin:margin + w].astype(np.float32)
