"""CK5/6 pixels in the H&E frame: a paired slide read through its registration, tile by tile.

``RegisteredSlide.read_region(level, location, size)`` answers in the H&E's level
grid, as ``Slide.read_region`` does, so the edge maps and the fusion network read
CK5/6 tiles exactly as they read H&E tiles. Each call reads only the CK5/6 box the
tile maps onto (at the CK5/6 level of matching resolution) and resamples it with
scikit-image's ``warp`` (bilinear); the CK5/6 slide is never resampled as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_histoseg.registration import Registration
from napari_histoseg.registration_match import level_frame, warp_yx

#: CK5/6 pixels outside its slide read as white glass.
GLASS = 255


@dataclass(frozen=True)
class RegisteredSlide:
    """The CK5/6 slide ``ck56`` seen in the level grid of the H&E slide ``he``."""

    he: object
    ck56: object
    registration: Registration

    @property
    def level_shapes(self) -> tuple[tuple[int, int], ...]:
        """(h, w) of each H&E level: the grid this view answers in."""
        return self.he.level_shapes

    @property
    def downsamples(self) -> tuple[float, ...]:
        return self.he.downsamples

    @property
    def mpp(self) -> tuple[float, float] | None:
        return self.he.mpp

    def read_region(self, level: int, location: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
        """(h, w, 3) uint8 CK5/6 pixels on the H&E ``level`` grid at ``location`` (y, x), ``size`` (h, w)."""
        matrix = self.registration.matrix @ level_frame(location, self.he.downsamples[level])
        scale = np.sqrt(abs(np.linalg.det(matrix[:2, :2])))
        ck_level = self.ck56.best_level_for_downsample(scale)
        dm = self.ck56.downsamples[ck_level]
        corners = np.array([[0, 0, 1], [0, size[1], 1], [size[0], 0, 1], [size[0], size[1], 1]], float)
        ck_px = ((corners @ matrix.T)[:, :2] + 0.5) / dm - 0.5
        low = np.floor(ck_px.min(0)).astype(int) - 2
        high = np.ceil(ck_px.max(0)).astype(int) + 2
        shape = self.ck56.level_shapes[ck_level]
        if np.any(high <= 0) or low[0] >= shape[0] or low[1] >= shape[1]:
            return np.full((*size, 3), GLASS, np.uint8)
        pixels = self.ck56.read_region(ck_level, tuple(int(v) for v in low),
                                       tuple(int(v) for v in high - low))
        to_box = np.linalg.inv(level_frame(tuple(low), dm)) @ matrix
        warped = warp_yx(pixels, to_box, tuple(size), cval=GLASS)
        return np.clip(warped + 0.5, 0, 255).astype(np.uint8)


class PairedSlide:
    """An H&E slide whose tiles carry the registered CK5/6 too: (h, w, 6) = H&E RGB, CK5/6 RGB.

    Everything else (levels, mpp, thumbnail, path...) is the H&E's, so tissue
    detection, tile planning and the result store work on the H&E as always; only
    ``read_region`` (what the tiled engine reads) adds the CK5/6 channels.
    """

    channels = 6

    def __init__(self, he, registered: RegisteredSlide):
        self.he, self.registered = he, registered

    def __getattr__(self, name: str):
        return getattr(self.he, name)

    def read_region(self, level: int, location: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
        """(h, w, 6) uint8: the H&E and the CK5/6 through the registration, on the H&E's grid."""
        return np.concatenate([self.he.read_region(level, location, size),
                               self.registered.read_region(level, location, size)], axis=-1)
