"""Training samples from a workspace's corrections, for the dataset builder.

Each committed record gives one sample: the H&E under the edit, the corrected mask,
its µm/px, a per-pixel weight and where it came from. Records are yielded oldest
first; a pixel that a later record also covers has weight 0 in the earlier sample,
so the latest word on every pixel counts once.

>>> for sample in correction_samples(workspace_root):            # doctest: +SKIP
...     sample.image.shape, sample.mask.shape, sample.mpp, sample.weight.sum()
((512, 512, 3), (512, 512), (1.0, 1.0), 262144.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from napari_histoseg.io.corrections import CorrectionStore


@dataclass(frozen=True, eq=False)
class CorrectionSample:
    """One corrected region as training data.

    Attributes:
        image: (h, w, 3) uint8 H&E at the mask's resolution.
        mask: (h, w) uint8 corrected labels.
        mpp: µm/px (y, x) of ``image`` and ``mask``.
        weight: (h, w) float32, 1 where this record is the latest edit, 0 where a later
            record covers the pixel.
        changed: (h, w) bool, pixels whose label the annotator changed.
        provenance: record id, slide path and sha256, model sha256, author, time,
            level-0 location and size.
    """

    image: np.ndarray
    mask: np.ndarray
    mpp: tuple[float, float]
    weight: np.ndarray
    changed: np.ndarray
    provenance: dict


def correction_samples(workspace_root: str | Path) -> Iterator[CorrectionSample]:
    """Yield a :class:`CorrectionSample` per committed record of a workspace, oldest first.

    Only ``corrections/`` of ``workspace_root`` is read (one record in memory at a time).
    """
    store = CorrectionStore(Path(workspace_root) / "corrections")
    entries = store.entries()
    for index, entry in enumerate(entries):
        correction = store.load(entry["record_id"])
        weight = _latest_word(correction.location, correction.size, correction.after.shape,
                              entries[index + 1:])
        provenance = {key: entry[key] for key in (
            "record_id", "slide", "slide_sha256", "model_sha256", "author", "time",
            "location", "size")}
        yield CorrectionSample(image=correction.image, mask=correction.after,
                               mpp=correction.mpp, weight=weight, changed=correction.changed,
                               provenance=provenance)


def _latest_word(location: tuple[int, int], size: tuple[int, int], shape: tuple[int, int],
                 later: list[dict]) -> np.ndarray:
    """(h, w) float32: 0 where a pixel's centre lies in the level-0 box of a later record."""
    centres = [location[axis] + (np.arange(shape[axis]) + 0.5) * size[axis] / shape[axis]
               for axis in (0, 1)]
    weight = np.ones(shape, dtype=np.float32)
    for entry in later:
        (y, x), (h, w) = entry["location"], entry["size"]
        rows = (centres[0] >= y) & (centres[0] < y + h)
        cols = (centres[1] >= x) & (centres[1] < x + w)
        weight[np.ix_(rows, cols)] = 0.0
    return weight
