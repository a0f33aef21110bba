"""What a synthetic pair is made from (SynthConfig) and what it produced (SyntheticPair)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class SynthConfig:
    """Everything a synthetic H&E + CK5/6 pair is generated from; same config, same bytes.

    Attributes:
        size: (h, w) of level 0 in pixels.
        mpp: level-0 µm per pixel (both axes).
        seed: the seed of every random choice.
        tile_size: TIFF tile side in pixels (a multiple of 16).
        stain_variation: 0 gives the reference stain vectors and intensities;
            about 0.1 varies them as much as two labs' slides differ.
        jpeg_quality: JPEG quality of the RGB slides (1-100); lower gives more artefacts.
        blur: Gaussian blur sigma in level-0 pixels (0 = in focus).
        folds: tissue folds (darker double-thickness bands) on the H&E.
        max_rotation_deg: largest |rotation| of the CK5/6 section against the H&E.
        max_shift_um: largest |shift| of the CK5/6 section, in µm.
        max_scale_change: largest |scale - 1| of the CK5/6 section.
    """

    size: tuple[int, int] = (4096, 4096)
    mpp: float = 0.5
    seed: int = 0
    tile_size: int = 512
    stain_variation: float = 0.1
    jpeg_quality: int = 85
    blur: float = 0.0
    folds: int = 1
    max_rotation_deg: float = 3.0
    max_shift_um: float = 40.0
    max_scale_change: float = 0.02

    def __post_init__(self) -> None:
        h, w = self.size
        if h < 256 or w < 256:
            raise ValueError(f"SynthConfig.size {self.size} is too small; use at least 256 x 256")
        if not 0.1 <= self.mpp <= 4.0:
            raise ValueError(f"SynthConfig.mpp {self.mpp} µm/px is outside 0.1-4.0")
        if self.tile_size % 16 or self.tile_size < 64:
            raise ValueError(f"SynthConfig.tile_size {self.tile_size} must be a multiple of 16, >= 64")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"SynthConfig.jpeg_quality {self.jpeg_quality} must be in 1-100")
        if self.stain_variation < 0 or self.blur < 0 or self.folds < 0:
            raise ValueError("SynthConfig.stain_variation, blur and folds must be >= 0")

    @property
    def size_um(self) -> tuple[float, float]:
        """(h, w) of the slide in µm."""
        return (self.size[0] * self.mpp, self.size[1] * self.mpp)

    def level_shapes(self) -> tuple[tuple[int, int], ...]:
        """(h, w) of each pyramid level: halving until a level fits in one tile."""
        shapes = [tuple(self.size)]
        while max(shapes[-1]) > self.tile_size:
            h, w = shapes[-1]
            shapes.append((-(-h // 2), -(-w // 2)))
        return tuple(shapes)

    def as_dict(self) -> dict:
        """JSON-ready fields."""
        return {name: (list(value) if isinstance(value, tuple) else value)
                for name, value in self.__dict__.items()}


@dataclass(frozen=True)
class SyntheticPair:
    """The files of one generated pair and the transform between its sections.

    Attributes:
        he_path, ck56_path: JPEG-tiled pyramidal RGB TIFFs.
        labels_path: uint8 label pyramid, 0 background/normal, 1 carcinoma in situ,
            2 invasive carcinoma (H&E frame).
        tumour_path: uint8 0/1 pyramid, 1 where labels > 0.
        affine: (3, 3) matrix mapping H&E level-0 (y, x, 1) to CK5/6 level-0 (y, x, 1).
        config: the SynthConfig it was made from.
    """

    he_path: Path
    ck56_path: Path
    labels_path: Path
    tumour_path: Path
    affine: np.ndarray = field(repr=False)
    config: SynthConfig
