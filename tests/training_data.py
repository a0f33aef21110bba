"""Small image/mask pair folders for training tests: pink tissue with coloured blobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

#: Blob colours: "purple" is the tumour a base model learns; "pale" a kind it has never seen,
#: close to the background's colour, so a model trained on purple alone misses it.
BLOB_COLOURS = {"purple": (110, 40, 150), "pale": (250, 215, 235)}


def blob_image(size: int, seed: int, kind: str = "purple") -> tuple[np.ndarray, np.ndarray]:
    """An (size, size, 3) uint8 tissue image and its (size, size) 0/1 mask of round blobs."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size]
    image = np.empty((size, size, 3), np.float32)
    image[:] = (225, 160, 190)
    image += rng.normal(0, 8, (size, size, 1))
    mask = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(2, 4)):
        cy, cx, radius = rng.integers(0, size, 2).tolist() + [int(rng.integers(size // 8, size // 4))]
        blob = (y - cy) ** 2 + (x - cx) ** 2 < radius ** 2
        mask[blob] = 1
    image[mask > 0] = np.asarray(BLOB_COLOURS[kind]) + rng.normal(0, 8, (int(mask.sum()), 1))
    return np.clip(image, 0, 255).astype(np.uint8), mask


def write_pairs(folder: Path, count: int, size: int = 96, kind: str = "purple", seed: int = 0,
                mask_value: int = 255) -> Path:
    """A pairs folder (images/*.png, masks/*.png with ``mask_value`` = tumour) of blob images."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    for index in range(count):
        image, mask = blob_image(size, seed * 1000 + index, kind)
        Image.fromarray(image).save(folder / "images" / f"{kind}{index:03d}.png")
        Image.fromarray(mask * mask_value).save(folder / "masks" / f"{kind}{index:03d}.png")
    return folder


def build_blob_dataset(folder: Path, count: int = 12, size: int = 96) -> Path:
    """A built dataset (8:1:1 by image) of ``count`` blob images at 1 µm/px, unnormalised."""
    from napari_histoseg.training.build_dataset import BuildParams, build_dataset
    from napari_histoseg.training.sources import source_from_dict

    pairs = write_pairs(folder.parent / f"{folder.name}-pairs", count=count, size=size)
    source = source_from_dict({"name": "blobs", "path": str(pairs), "mpp": 1.0})
    params = BuildParams(mpp=1.0, patch_size=512, tumour_fraction=(0.0, 1.0), stain="none")
    build_dataset([source], folder, params)
    return folder
