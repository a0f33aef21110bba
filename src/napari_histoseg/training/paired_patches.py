"""Training patches of registered H&E + CK5/6 pairs for the fusion network: (6, h, w) inputs.

Each item stacks the H&E RGB and the CK5/6 RGB read through the pair's transform
(``registered.RegisteredSlide``) on the H&E's grid at ``mpp`` µm/px, normalised with
the checkpoint's RGB mean/std, and the label mask (0 background, 1 in situ,
2 invasive). ``EdgeFusionNet.predict_logits`` splits the six channels into its
H&E and CK5/6 branches, so the project's ``Trainer`` trains it unchanged.

Patches are cut once, in memory (small synthetic pairs); training items are
random crops with random quarter turns and flips drawn from (seed, epoch, index).

>>> data = PairedPatches([(he, ck56, matrix, labels_path)], normalisation, crop=192)   # doctest: +SKIP
>>> image, mask = data[0]            # (6, 192, 192) float32, (192, 192) int64
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_histoseg.training.sources import IGNORE_LABEL

#: Patches with less tissue than this share (not glass) are left out.
MIN_TISSUE = 0.3
#: Sampling weight of a patch that holds tumour (in situ or invasive), against 1 for others.
TUMOUR_WEIGHT = 4.0


def paired_level_arrays(he, ck56, matrix: np.ndarray, labels_path: str | Path, mpp: float):
    """(H&E (h, w, 3), registered CK5/6 (h, w, 3), labels (h, w)) uint8 at the H&E level nearest ``mpp``."""
    from napari_histoseg.io.labels import open_label_pyramid
    from napari_histoseg.registered import RegisteredSlide
    from napari_histoseg.registration import Registration

    level = he.best_level_for_downsample(mpp / he.mpp[0])
    shape = he.level_shapes[level]
    he_rgb = he.read_region(level, (0, 0), shape)
    ck_rgb = RegisteredSlide(he, ck56, Registration(matrix, 1.0, 0.0)).read_region(level, (0, 0), shape)
    labels = np.asarray(open_label_pyramid(labels_path)[level])
    return he_rgb, ck_rgb, labels


class PairedPatches:
    """(image (6, h, w) float32, mask (h, w) int64) items from registered pairs.

    ``pairs``: (H&E Slide, CK5/6 Slide, (3, 3) H&E -> CK5/6 level-0 matrix, labels path).
    With ``crop``, items are random crops of ``patch`` x ``patch`` patches (training);
    without, whole patches (validation).
    """

    def __init__(self, pairs: list, normalisation: dict, mpp: float = 1.0, patch: int = 256,
                 crop: int | None = None, seed: int = 0):
        mean = np.tile(np.asarray(normalisation["mean"], np.float32), 2)
        std = np.tile(np.asarray(normalisation["std"], np.float32), 2)
        self.crop, self.seed, self.epoch = crop, seed, 0
        self.images, self.masks = [], []
        for he, ck56, matrix, labels_path in pairs:
            he_rgb, ck_rgb, labels = paired_level_arrays(he, ck56, matrix, labels_path, mpp)
            stacked = np.concatenate([he_rgb, ck_rgb], axis=-1)
            for y in range(0, labels.shape[0] - patch + 1, patch):
                for x in range(0, labels.shape[1] - patch + 1, patch):
                    window = stacked[y:y + patch, x:x + patch]
                    if (window[..., :3].min(-1) < 220).mean() < MIN_TISSUE:
                        continue
                    image = (window.astype(np.float32) / 255 - mean) / std
                    self.images.append(np.ascontiguousarray(image.transpose(2, 0, 1)))
                    self.masks.append(labels[y:y + patch, x:x + patch].astype(np.int64))
        if not self.images:
            raise ValueError("the pairs hold no patch with tissue; use larger slides")

    def __len__(self) -> int:
        return len(self.images)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def weights(self) -> np.ndarray:
        """Sampling weights: patches with tumour drawn ``TUMOUR_WEIGHT`` times as often."""
        return np.array([TUMOUR_WEIGHT if (m > 0).any() else 1.0 for m in self.masks])

    def __getitem__(self, index: int):
        import torch

        image, mask = self.images[index], self.masks[index]
        if self.crop is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            y, x = (int(rng.integers(0, s - self.crop + 1)) for s in mask.shape)
            image = image[:, y:y + self.crop, x:x + self.crop]
            mask = mask[y:y + self.crop, x:x + self.crop]
            turns = int(rng.integers(4))
            image, mask = np.rot90(image, turns, axes=(1, 2)), np.rot90(mask, turns)
            if rng.integers(2):
                image, mask = image[:, :, ::-1], mask[:, ::-1]
        mask = np.where(mask > 2, IGNORE_LABEL, mask)
        return torch.from_numpy(np.ascontiguousarray(image)), torch.from_numpy(np.ascontiguousarray(mask))
