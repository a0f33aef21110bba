"""A torch-style dataset over one split of a built dataset folder (see ``dataset_format``).

Training items are random ``crop`` x ``crop`` crops of augmented patches;
evaluation items are whole patches padded to a multiple of 32 (the padding is
labelled ``IGNORE_LABEL`` so it counts for nothing). Decoded patches are kept in
memory up to ``CACHE_BYTES``; past that (paper-scale datasets) they are read from
disk each time.

>>> data = PatchDataset("dataset/", "train", normalisation, crop=256)   # doctest: +SKIP
>>> image, mask = data[0]            # (3, 256, 256) float32, (256, 256) int64
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_histoseg.training.augment import NO_AUGMENT, AugmentParams, augment, random_crop
from napari_histoseg.training.dataset_format import DatasetError, PatchEntry, read_manifest
from napari_histoseg.training.sources import IGNORE_LABEL, SourceError, read_pixels, read_rgb

MODEL_MULTIPLE = 32
#: Decoded patches kept in memory, at most (512 MiB: about 650 RGB patches of 512²).
CACHE_BYTES = 512 * 2**20


class PatchDataset:
    """(image, mask) tensors from ``split`` of the dataset at ``root``.

    ``normalisation`` is the checkpoint's {"mean", "std"} for RGB in 0-1. With
    ``crop`` set, each item is a random crop after ``augment``; ``set_epoch`` makes
    the random draws a function of (seed, epoch, index), so a resumed run sees the
    same data as an uninterrupted one.
    """

    def __init__(self, root: str | Path, split: str, normalisation: dict, crop: int | None = None,
                 augment_params: AugmentParams = NO_AUGMENT, seed: int = 0,
                 weight_sources: dict[str, float] | None = None):
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        self.entries: list[PatchEntry] = self.manifest.split(split)
        if not self.entries:
            raise DatasetError(self.root, f"split {split!r} holds no patches")
        self.mean = np.asarray(normalisation["mean"], np.float32)
        self.std = np.asarray(normalisation["std"], np.float32)
        self.crop = crop
        self.augment_params = augment_params
        self.seed = seed
        self.epoch = 0
        self.weight_sources = weight_sources or {}
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._cached_bytes = 0

    def __len__(self) -> int:
        return len(self.entries)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def weights(self) -> np.ndarray:
        """Sampling weight per item: the entry's weight times its source's multiplier, if any."""
        return np.array([e.weight * self.weight_sources.get(e.source, 1.0) for e in self.entries])

    def pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The stored (h, w, 3) uint8 image and (h, w) uint8 mask of item ``index``."""
        if index in self._cache:
            return self._cache[index]
        entry = self.entries[index]
        try:
            pair = read_rgb(self.root / entry.image), read_pixels(self.root / entry.mask)
        except SourceError as error:
            raise DatasetError(self.root, f"patch {entry.id}: {error}") from error
        if self._cached_bytes + pair[0].nbytes + pair[1].nbytes <= CACHE_BYTES:
            self._cache[index] = pair
            self._cached_bytes += pair[0].nbytes + pair[1].nbytes
        return pair

    def __getitem__(self, index: int):
        import torch

        image, mask = self.pair(index)
        if self.crop:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            image, mask = augment(image, mask, self.augment_params, rng)
            image, mask = random_crop(image, mask, self.crop, rng, IGNORE_LABEL)
        else:
            image, mask = pad_to_multiple(image, mask, MODEL_MULTIPLE)
        chw = (image.astype(np.float32) / 255 - self.mean) / self.std
        return (torch.from_numpy(np.ascontiguousarray(chw.transpose(2, 0, 1))),
                torch.from_numpy(mask.astype(np.int64)))


def pad_to_multiple(image: np.ndarray, mask: np.ndarray, multiple: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad at the bottom and right to a multiple of ``multiple`` (white, ignored in the mask)."""
    h, w = mask.shape
    pad_y, pad_x = -h % multiple, -w % multiple
    if not pad_y and not pad_x:
        return image, mask
    return (np.pad(image, ((0, pad_y), (0, pad_x), (0, 0)), constant_values=255),
            np.pad(mask, ((0, pad_y), (0, pad_x)), constant_values=IGNORE_LABEL))
