"""What tissue lies where: region codes on a pixel grid or at scattered points.

Codes (uint8) name the compartments that the renderers stain and the ground truth
labels; LABEL_OF_REGION maps them to 0 background/normal, 1 in situ, 2 invasive.
"""

from __future__ import annotations

import numpy as np

from napari_histoseg.io.synthetic.layout import BASAL_UM, Layout

BACKGROUND, STROMA, LUMEN, EPITHELIUM, BASAL, BASAL_CIS, CIS, NECROSIS, INVASIVE, CLEFT = range(10)
REGION_COUNT = 10
#: Width of the retraction cleft around invasive nests, µm.
CLEFT_UM = 4.0

LABEL_OF_REGION = np.zeros(REGION_COUNT, dtype=np.uint8)
LABEL_OF_REGION[[BASAL_CIS, CIS, NECROSIS]] = 1
LABEL_OF_REGION[INVASIVE] = 2


def tissue_density(layout: Layout, y_um: np.ndarray, x_um: np.ndarray) -> np.ndarray:
    """(h, w) float32 bilinear sample of the tissue field on the grid y_um x x_um (1-D, µm)."""
    raster = layout.tissue
    fy, iy = _bilinear_index(y_um / layout.tissue_step_um, raster.shape[0])
    fx, ix = _bilinear_index(x_um / layout.tissue_step_um, raster.shape[1])
    rows = raster[iy]                                    # (h, gw)
    rows = rows[:, ix] * (1 - fx) + rows[:, ix + 1] * fx  # (h, w), interpolated along x
    top = rows.astype(np.float32)
    rows_next = raster[iy + 1]
    bottom = (rows_next[:, ix] * (1 - fx) + rows_next[:, ix + 1] * fx).astype(np.float32)
    return top + (bottom - top) * fy[:, None].astype(np.float32)


def _bilinear_index(position: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    position = np.clip(position, 0, length - 1.001)
    index = position.astype(np.int64)
    return (position - index).astype(np.float32), index


def region_grid(layout: Layout, y_um: np.ndarray, x_um: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes (h, w) uint8, tissue (h, w) float32) on the grid of µm positions y_um x x_um."""
    tissue = tissue_density(layout, y_um, x_um)
    codes = np.where(tissue > 0, STROMA, BACKGROUND).astype(np.uint8)
    box = (y_um[0], x_um[0], y_um[-1] + 1e-6, x_um[-1] + 1e-6)
    for index in layout.ducts.overlapping(*box):
        sub = _sub_box(layout.ducts, index, y_um, x_um)
        if sub is not None:
            rows, cols, dy, dx = sub
            depth = layout.ducts.depth_only(index, dy, dx)
            window = codes[rows, cols]
            window[...] = _duct_layers(layout, index, depth, window)
    for index in layout.nests.overlapping(*box, margin=CLEFT_UM):
        sub = _sub_box(layout.nests, index, y_um, x_um, margin=CLEFT_UM)
        if sub is not None:
            rows, cols, dy, dx = sub
            depth = layout.nests.depth_only(index, dy, dx)
            window = codes[rows, cols]
            window[(depth > -CLEFT_UM) & (window == STROMA)] = CLEFT
            window[depth >= 0] = INVASIVE
    return codes, tissue


def region_points(layout: Layout, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, polar angle about the duct centre or NaN) at scattered µm points (n,)."""
    tissue = _tissue_at_points(layout, y, x)
    codes = np.where(tissue > 0, STROMA, BACKGROUND).astype(np.uint8)
    polar = np.full(y.shape, np.nan)
    for index in layout.ducts.overlapping(y.min(), x.min(), y.max() + 1e-6, x.max() + 1e-6):
        near = np.flatnonzero(np.hypot(y - layout.ducts.cy[index], x - layout.ducts.cx[index])
                              < layout.ducts.reach[index])
        depth, angle = layout.ducts.depth(index, y[near] - layout.ducts.cy[index],
                                          x[near] - layout.ducts.cx[index])
        codes[near] = _duct_layers(layout, index, depth, codes[near])
        polar[near] = np.where(depth >= 0, angle, np.nan)
    for index in layout.nests.overlapping(y.min(), x.min(), y.max() + 1e-6, x.max() + 1e-6):
        near = np.flatnonzero(np.hypot(y - layout.nests.cy[index], x - layout.nests.cx[index])
                              < layout.nests.reach[index])
        depth = layout.nests.depth_only(index, y[near] - layout.nests.cy[index],
                                        x[near] - layout.nests.cx[index])
        codes[near[depth > -CLEFT_UM]] = CLEFT
        codes[near[depth >= 0]] = INVASIVE
    return codes, polar


def _duct_layers(layout: Layout, index: int, depth: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Codes inside duct ``index`` from the depth (µm) below its outer edge."""
    out = codes.copy()
    if layout.duct_is_cis[index]:
        inner = depth >= BASAL_UM
        out[(depth >= 0) & ~inner] = BASAL_CIS
        out[inner] = CIS
        if layout.duct_necrosis[index] > 0:
            radius = np.sqrt(layout.ducts.a[index] * layout.ducts.b[index])
            out[depth >= radius * (1 - layout.duct_necrosis[index])] = NECROSIS
    else:
        epithelium = BASAL_UM + layout.duct_epithelium_um[index]
        out[(depth >= 0) & (depth < BASAL_UM)] = BASAL
        out[(depth >= BASAL_UM) & (depth < epithelium)] = EPITHELIUM
        out[depth >= epithelium] = LUMEN
    return out


def _sub_box(outlines, index, y_um, x_um, margin: float = 0.0):
    """(row slice, col slice, dy (h, 1), dx (1, w)) of the grid part near outline ``index``."""
    cy, cx, reach = outlines.cy[index], outlines.cx[index], outlines.reach[index] + margin
    r0, r1 = np.searchsorted(y_um, [cy - reach, cy + reach])
    c0, c1 = np.searchsorted(x_um, [cx - reach, cx + reach])
    if r0 >= r1 or c0 >= c1:
        return None
    rows, cols = slice(r0, r1), slice(c0, c1)
    return rows, cols, (y_um[rows] - cy)[:, None], (x_um[cols] - cx)[None, :]


def _tissue_at_points(layout: Layout, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    raster, step = layout.tissue, layout.tissue_step_um
    iy = np.clip(np.rint(y / step).astype(np.int64), 0, raster.shape[0] - 1)
    ix = np.clip(np.rint(x / step).astype(np.int64), 0, raster.shape[1] - 1)
    return raster[iy, ix]
