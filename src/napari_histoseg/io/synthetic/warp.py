"""The serial-section transform: a small affine between the H&E and the CK5/6 glass.

``affine`` maps H&E level-0 (y, x, 1) to CK5/6 level-0 (y, x, 1). A CK5/6 tile is
rendered by mapping its pixel centres back into the H&E frame, rendering the H&E-frame
box they cover, and taking the nearest stain indices there.
"""

from __future__ import annotations

import numpy as np

from napari_histoseg.io.synthetic.config import SynthConfig
from napari_histoseg.io.synthetic.render import SectionRenderer


def random_affine(config: SynthConfig) -> np.ndarray:
    """(3, 3) rotation about the slide centre, slight scale and shift, from config.seed."""
    rng = np.random.default_rng([config.seed, 4])
    angle = np.deg2rad(rng.uniform(-1, 1) * config.max_rotation_deg)
    scale = 1.0 + rng.uniform(-1, 1) * config.max_scale_change
    shift = rng.uniform(-1, 1, size=2) * config.max_shift_um / config.mpp
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    linear = np.array([[cos, -sin], [sin, cos]])
    centre = (np.array(config.size, dtype=float) - 1) / 2
    affine = np.eye(3)
    affine[:2, :2] = linear
    affine[:2, 2] = centre - linear @ centre + shift
    return affine


def level_affine(affine: np.ndarray, level: int) -> np.ndarray:
    """The affine between level-``level`` pixel indices of the two sections.

    Level pixel i has its centre at level-0 position (i + 0.5) * 2**level - 0.5.
    """
    factor = 2.0**level
    to_level0 = np.array([[factor, 0, 0.5 * factor - 0.5], [0, factor, 0.5 * factor - 0.5], [0, 0, 1]])
    return np.linalg.inv(to_level0) @ affine @ to_level0


def warped_rgb(section: SectionRenderer, affine: np.ndarray, level: int,
               location: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8 tile of ``section`` seen on the glass that ``affine`` maps onto."""
    inverse = np.linalg.inv(level_affine(affine, level))
    rows = location[0] + np.arange(size[0], dtype=np.float64)
    cols = location[1] + np.arange(size[1], dtype=np.float64)
    src_y = (inverse[0, 0] * rows[:, None] + inverse[0, 1] * cols[None, :] + inverse[0, 2])
    src_x = (inverse[1, 0] * rows[:, None] + inverse[1, 1] * cols[None, :] + inverse[1, 2])
    iy, ix = np.rint(src_y).astype(np.int64), np.rint(src_x).astype(np.int64)
    y0, x0 = int(iy.min()), int(ix.min())
    box = (int(iy.max()) - y0 + 1, int(ix.max()) - x0 + 1)
    indices = section.indices(level, (y0, x0), box)
    iy -= y0
    iy *= box[1]
    iy += ix
    iy -= x0
    gathered = np.take(indices.ravel(), iy)       # flat positions (y - y0) * box_w + (x - x0)
    return section.table.colour_indices(gathered)
