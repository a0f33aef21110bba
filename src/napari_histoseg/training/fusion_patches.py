"""Training items for the whole fusion network: H&E + CK5/6, a 40x detail crop, and the edge target.

Fusion paper §III-A and §III-D: at training time the key region is placed on the
truth's tumour (here by the same peak search the inference uses,
``explain.key_regions.find_key_regions``, run on the truth's tumour mask), and its
detail crop is read from the pair's finer pyramid level, ``zoom`` times finer than the
analysis level (0.5 µm/px against 2 µm/px for the bundled model), never upsampled from
the coarse patch. The edge sub-branch learns the basal ring: the in-situ boundary of
the truth, ``EDGE_RING_PX`` px either side.

Each item is ``(inputs, targets)``, two dicts of tensors (``training.fusion_step``
feeds them to the network and the fusion loss)::

    inputs  = {"image": (6, c, c) float32 (H&E RGB, CK5/6 RGB, normalised),
               "detail": (3, w * zoom, w * zoom) float32, "box": (4,) int64 (y0, x0, y1, x1)}
    targets = {"seg": (c, c) int64, "high": (w * zoom, w * zoom) int64, "edge": (c, c) int64}

>>> data = FusionPatches([(he, ck56, matrix, labels_path)], normalisation, mpp=2.0, crop=96)  # doctest: +SKIP
>>> inputs, targets = data[0]
"""

from __future__ import annotations

import numpy as np

from napari_histoseg.inference.detail_crops import DETAIL_WINDOW, detail_box
from napari_histoseg.training.paired_patches import MIN_TISSUE, TUMOUR_WEIGHT, paired_level_arrays
from napari_histoseg.training.sources import IGNORE_LABEL

#: Half-width (px at the analysis resolution) of the basal ring the edge branch learns.
EDGE_RING_PX = 2


def ring_target(labels: np.ndarray, half_width: int = EDGE_RING_PX) -> np.ndarray:
    """(h, w) uint8, 1 on the in-situ boundary (``half_width`` px inside and outside), else 0."""
    from scipy import ndimage

    insitu = labels == 1
    if not insitu.any():
        return np.zeros(labels.shape, np.uint8)
    outer = ndimage.binary_dilation(insitu, iterations=half_width)
    inner = ndimage.binary_erosion(insitu, iterations=half_width, border_value=1)
    return (outer & ~inner).astype(np.uint8)


class FusionPatches:
    """Items of registered pairs for the full fusion loss (see the module docstring).

    ``pairs``: (H&E Slide, CK5/6 Slide, (3, 3) H&E -> CK5/6 level-0 matrix, labels path).
    ``zoom``: detail resolution over the analysis resolution (the network's ``detail_zoom``);
    the H&E must have a level that fine. With ``crop``, items are random crops of the
    ``patch`` x ``patch`` patches with random quarter turns and flips (training).
    """

    def __init__(self, pairs: list, normalisation: dict, mpp: float = 2.0, patch: int = 128,
                 crop: int | None = None, zoom: int = 4, window: int = DETAIL_WINDOW, seed: int = 0):
        self.mean = np.asarray(normalisation["mean"], np.float32)
        self.std = np.asarray(normalisation["std"], np.float32)
        self.crop, self.zoom, self.window, self.seed, self.epoch = crop, zoom, window, seed, 0
        self.images, self.masks, self.rings, self.fine, self.fine_masks = [], [], [], [], []
        for he, ck56, matrix, labels_path in pairs:
            self._cut(he, ck56, matrix, labels_path, mpp, patch)
        if not self.images:
            raise ValueError("the pairs hold no patch with tissue; use larger slides")

    def _cut(self, he, ck56, matrix, labels_path, mpp: float, patch: int) -> None:
        """Cut the tissue patches of one pair, with their level-``zoom``-finer H&E and labels."""
        from napari_histoseg.io.labels import open_label_pyramid

        he_rgb, ck_rgb, labels = paired_level_arrays(he, ck56, matrix, labels_path, mpp)
        level = he.best_level_for_downsample(mpp / he.mpp[0])
        fine_level = he.best_level_for_downsample(he.downsamples[level] / self.zoom)
        if abs(he.downsamples[level] / he.downsamples[fine_level] - self.zoom) > 1e-3:
            raise ValueError(f"{he.path}: no pyramid level {self.zoom}x finer than level {level}; "
                             "detail crops need one")
        fine_labels = open_label_pyramid(labels_path)[fine_level]
        stacked, rings, z = np.concatenate([he_rgb, ck_rgb], axis=-1), ring_target(labels), self.zoom
        for y in range(0, labels.shape[0] - patch + 1, patch):
            for x in range(0, labels.shape[1] - patch + 1, patch):
                window = stacked[y:y + patch, x:x + patch]
                if (window[..., :3].min(-1) < 220).mean() < MIN_TISSUE:
                    continue
                self.images.append(window)
                self.masks.append(labels[y:y + patch, x:x + patch])
                self.rings.append(rings[y:y + patch, x:x + patch])
                self.fine.append(he.read_region(fine_level, (y * z, x * z), (patch * z, patch * z)))
                self.fine_masks.append(np.asarray(fine_labels[y * z:(y + patch) * z, x * z:(x + patch) * z]))

    def __len__(self) -> int:
        return len(self.images)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def weights(self) -> np.ndarray:
        """Sampling weights: patches with tumour drawn ``TUMOUR_WEIGHT`` times as often."""
        return np.array([TUMOUR_WEIGHT if ((m > 0) & (m <= 2)).any() else 1.0 for m in self.masks])

    def __getitem__(self, index: int):
        import torch

        image, mask, ring = self.images[index], self.masks[index], self.rings[index]
        fine, fine_mask, z = self.fine[index], self.fine_masks[index], self.zoom
        if self.crop is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            y, x = (int(rng.integers(0, s - self.crop + 1)) for s in mask.shape)
            c = self.crop
            image, mask, ring = image[y:y + c, x:x + c], mask[y:y + c, x:x + c], ring[y:y + c, x:x + c]
            fine, fine_mask = fine[y * z:(y + c) * z, x * z:(x + c) * z], fine_mask[y * z:(y + c) * z, x * z:(x + c) * z]
            turns, flip = int(rng.integers(4)), bool(rng.integers(2))
            image, mask, ring, fine, fine_mask = (_turn(a, turns, flip) for a in (image, mask, ring, fine, fine_mask))
        mask = np.where(mask > 2, IGNORE_LABEL, mask)
        y0, x0, y1, x1 = detail_box(((mask > 0) & (mask <= 2)).astype(np.float32), self.window)
        detail = fine[y0 * z:y1 * z, x0 * z:x1 * z]
        high = np.where(fine_mask[y0 * z:y1 * z, x0 * z:x1 * z] > 2, IGNORE_LABEL,
                        fine_mask[y0 * z:y1 * z, x0 * z:x1 * z])
        inputs = {"image": self._tensor(image, 2), "detail": self._tensor(detail, 1),
                  "box": torch.tensor([y0, x0, y1, x1], dtype=torch.int64)}
        targets = {name: torch.from_numpy(np.ascontiguousarray(a).astype(np.int64))
                   for name, a in (("seg", mask), ("high", high), ("edge", ring))}
        return inputs, targets

    def _tensor(self, rgb: np.ndarray, repeat: int):
        """(h, w, 3 * repeat) uint8 -> (3 * repeat, h, w) float32, normalised."""
        import torch

        mean, std = np.tile(self.mean, repeat), np.tile(self.std, repeat)
        values = (rgb.astype(np.float32) / 255 - mean) / std
        return torch.from_numpy(np.ascontiguousarray(values.transpose(2, 0, 1)))


def _turn(array: np.ndarray, turns: int, flip: bool) -> np.ndarray:
    """``array`` (h, w[, c]) turned by ``turns`` quarter turns, then mirrored left-right if ``flip``."""
    array = np.rot90(array, turns, axes=(0, 1))
    return array[:, ::-1] if flip else array
