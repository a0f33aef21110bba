"""CK5/6 edge maps: where the DAB-stained basal layer draws the boundary of carcinoma in situ.

The classical path (fusion paper §III-B's edge input, made explicit): the DAB
optical density by colour deconvolution (``stain.stain_densities``, scikit-image),
a Gaussian of ``EDGE_SIGMA_UM``, and the Sobel gradient magnitude per µm
(``scipy.ndimage``), scaled by a fixed ``FULL_SCALE`` so that every tile, and every
slide, is on one scale (no per-tile normalisation, hence no seams). A basal ring
around an in-situ duct gives two strong, closed edges; an invasive nest, which has
no basal layer, gives none.

``edge_pyramid`` computes the map over a registered pair, tile by tile in the H&E
frame (CK5/6 tiles read through the registration), and writes it into the H&E's
workspace as a pyramid (``io.edge_store``); it is a generator of progress.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import numpy as np

from napari_histoseg.io.edge_store import EDGES_NAME, EdgePyramid, write_pyramid
from napari_histoseg.stain import stain_densities

#: Gaussian sigma (µm) before the gradient: about a basal cell, so single grains do not count.
EDGE_SIGMA_UM = 1.5
#: DAB optical density per µm that maps to edge strength 1.
FULL_SCALE = 0.04
#: µm/px at which the edge pyramid's level 0 is computed (the fusion network's 10x).
EDGE_MPP = 1.0
TILE = 1024


def dab_edges(rgb: np.ndarray, mpp: float, sigma_um: float = EDGE_SIGMA_UM) -> np.ndarray:
    """(h, w) float32 edge strength in [0, 1] of an (h, w, 3) uint8 CK5/6 image at ``mpp`` µm/px."""
    from scipy import ndimage

    if mpp <= 0:
        raise ValueError(f"mpp must be > 0 µm/px, got {mpp}")
    dab = ndimage.gaussian_filter(stain_densities(rgb, (2,))[..., 0], sigma_um / mpp)
    gradient = np.hypot(ndimage.sobel(dab, 0), ndimage.sobel(dab, 1)) / (8.0 * mpp)
    return np.clip(gradient / FULL_SCALE, 0.0, 1.0).astype(np.float32)


def edge_level(he, edge_mpp: float = EDGE_MPP) -> int:
    """The H&E level the edge map's level 0 is computed on (the coarsest not coarser than edge_mpp)."""
    return he.best_level_for_downsample(edge_mpp / he.mpp[0])


def edge_tile(registered, level: int, location: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """(h, w) uint8 edge strength of the registered CK5/6 on the H&E ``level`` grid."""
    mpp = registered.he.mpp[0] * registered.he.downsamples[level]
    halo = int(np.ceil(4 * EDGE_SIGMA_UM / mpp)) + 2
    rgb = registered.read_region(level, (location[0] - halo, location[1] - halo),
                                 (size[0] + 2 * halo, size[1] + 2 * halo))
    edges = dab_edges(rgb, mpp)[halo:halo + size[0], halo:halo + size[1]]
    return np.rint(edges * 255).astype(np.uint8)


def edge_pyramid(registered, workspace_root: str | Path, edge_mpp: float = EDGE_MPP
                 ) -> Generator[float, None, EdgePyramid]:
    """Compute the classical edge map of ``registered`` (a RegisteredSlide) into
    ``<workspace>/edges.zarr``; yields the fraction done (0-1), returns the pyramid."""
    he = registered.he
    level = edge_level(he, edge_mpp)
    shape = he.level_shapes[level]
    downsample = he.downsamples[level]
    meta = {"method": "dab-sobel", "level": level, "downsample": downsample,
            "mpp": [he.mpp[0] * downsample, he.mpp[1] * downsample], "slide_mpp": list(he.mpp),
            "sigma_um": EDGE_SIGMA_UM, "full_scale": FULL_SCALE,
            "registration": np.asarray(registered.registration.matrix).tolist()}
    return (yield from write_pyramid(Path(workspace_root) / EDGES_NAME, shape, meta, TILE,
                                     lambda y, x, size: edge_tile(registered, level, (y, x), size)))
