"""Training patches cut from a slide and its label pyramid.

The recipe follows HI-Net §4.2: patches of 512² at a reduced resolution, kept
when their tumour fraction lies between 5% and 99.5%. Patches are planned on
the label pyramid (cheap) and read lazily when the loader asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_histoseg.io.slide import Slide, open_slide

#: HI-Net §4.2 keeps patches whose tumour fraction lies in this range.
PAPER_TUMOUR_FRACTION = (0.05, 0.995)


@dataclass(frozen=True)
class Patch:
    """One training patch: ``size`` (h, w) pixels at ``location`` (y, x) of ``level``."""

    level: int
    location: tuple[int, int]
    size: tuple[int, int]
    tumour_fraction: float


def plan_patches(labels: np.ndarray, level: int, size: int, stride: int | None = None,
                 tumour_fraction: tuple[float, float] = PAPER_TUMOUR_FRACTION,
                 ) -> list[Patch]:
    """Grid patches over ``labels`` ((h, w) ints at ``level``; >0 is tumour) within the range."""
    stride = stride or size
    low, high = tumour_fraction
    patches = []
    for y in range(0, max(labels.shape[0] - size, 0) + 1, stride):
        for x in range(0, max(labels.shape[1] - size, 0) + 1, stride):
            fraction = float((labels[y:y + size, x:x + size] > 0).mean())
            if low <= fraction <= high:
                patches.append(Patch(level, (y, x), (size, size), fraction))
    return patches


class SlidePatchDataset:
    """A torch-style dataset of (image, labels) patches from one slide.

    ``__getitem__`` returns a ``(3, h, w)`` float32 tensor normalised with
    ``mean``/``std`` (RGB in 0-1) and a ``(h, w)`` int64 label tensor.
    """

    def __init__(self, slide: Slide | str | Path, labels: list, patches: list[Patch],
                 mean: tuple[float, float, float], std: tuple[float, float, float],
                 binary: bool = True, augment: bool = False, seed: int = 0):
        self.slide = slide if isinstance(slide, Slide) else open_slide(slide)
        level_shapes = tuple(tuple(level.shape[:2]) for level in labels)
        if level_shapes != self.slide.level_shapes[:len(level_shapes)]:
            raise ValueError(f"{self.slide.path}: label levels {level_shapes} do not match the "
                             f"slide's levels {self.slide.level_shapes}")
        self.labels = labels
        self.patches = patches
        self.mean = np.asarray(mean, np.float32)[:, None, None]
        self.std = np.asarray(std, np.float32)[:, None, None]
        self.binary = binary
        self.augment = augment
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.patches)

    def __getitem__(self, index: int):
        import torch

        patch = self.patches[index]
        image = self.slide.read_region(patch.level, patch.location, patch.size)
        (y, x), (h, w) = patch.location, patch.size
        target = np.asarray(self.labels[patch.level][y:y + h, x:x + w])
        if self.binary:
            target = (target > 0).astype(np.int64)
        if self.augment:
            image, target = self._flip_and_rotate(image, target)
        chw = image.transpose(2, 0, 1).astype(np.float32) / 255.0
        normalised = (chw - self.mean) / self.std
        return torch.from_numpy(normalised), torch.from_numpy(target.astype(np.int64))

    def _flip_and_rotate(self, image: np.ndarray, target: np.ndarray):
        turns = int(self._rng.integers(4))
        image, target = np.rot90(image, turns), np.rot90(target, turns)
        if self._rng.random() < 0.5:
            image, target = image[:, ::-1], target[:, ::-1]
        return np.ascontiguousarray(image), np.ascontiguousarray(target)
