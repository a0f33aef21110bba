"""Area per class, tissue area and tumour fraction, counted block by block (numpy).

Areas are pixel counts times the pixel's area (µm/px y x µm/px x), at the mask's full
resolution (the results' level 0), so they carry no resampling error. Not-computed pixels
(class id ``>= n_classes``, i.e. ``NOT_COMPUTED`` = 255) count as neither tissue nor tumour.

Tissue is what the tile plan used: the slide thumbnail's tissue mask (HSV + Otsu, see
:mod:`napari_histoseg.tissue`), looked up at each mask pixel's centre, plus every computed
tumour pixel. Without the slide file, the computed pixels stand in for the tissue (the
report says so). Tissue under not-computed pixels is counted separately: a run that was
cancelled shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Where the tissue area came from.
TISSUE_FROM_THUMBNAIL = "slide thumbnail (HSV + Otsu)"
TISSUE_FROM_COMPUTED = "computed pixels (slide file not found)"


@dataclass(frozen=True)
class TissueLookup:
    """A (th, tw) bool tissue mask and the thumbnail px per mask px (y, x)."""

    mask: np.ndarray
    scale: tuple[float, float]

    def block(self, location: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
        """(h, w) bool tissue at the centres of the mask pixels of a block."""
        rows = _centres(location[0], shape[0], self.scale[0], self.mask.shape[0])
        cols = _centres(location[1], shape[1], self.scale[1], self.mask.shape[1])
        return self.mask[np.ix_(rows, cols)]


def _centres(start: int, length: int, scale: float, limit: int) -> np.ndarray:
    index = np.floor((np.arange(start, start + length) + 0.5) * scale).astype(np.int64)
    return np.clip(index, 0, limit - 1)


@dataclass(frozen=True)
class ClassAreas:
    """Areas in mm² of one mask.

    Attributes:
        by_class: class name -> area (computed pixels of that class).
        tumour_mm2: all classes but background (class 0).
        tissue_mm2: tissue area (see the module docstring); ``tissue_source`` says how.
        tissue_not_computed_mm2: tissue under pixels no finished tile reached.
    """

    by_class: dict[str, float]
    tumour_mm2: float
    tissue_mm2: float
    tissue_not_computed_mm2: float
    tissue_source: str

    @property
    def tumour_fraction(self) -> float:
        """Tumour area / tissue area (0 when there is no tissue)."""
        return self.tumour_mm2 / self.tissue_mm2 if self.tissue_mm2 > 0 else 0.0


class AreaCounter:
    """Counts class, tissue and not-computed pixels over the blocks it is given."""

    def __init__(self, n_classes: int, tissue: TissueLookup | None = None):
        self.n_classes, self.tissue = int(n_classes), tissue
        self.class_pixels = np.zeros(self.n_classes, dtype=np.int64)
        self.tissue_pixels = 0
        self.tissue_not_computed = 0

    def add(self, location: tuple[int, int], classes: np.ndarray) -> None:
        """Count the (h, w) uint8 class ids of the block at ``location`` (y, x)."""
        computed = classes < self.n_classes
        self.class_pixels += np.bincount(classes[computed], minlength=self.n_classes)
        if self.tissue is None:
            self.tissue_pixels += int(computed.sum())
            return
        tissue = self.tissue.block(location, classes.shape)
        self.tissue_pixels += int(np.count_nonzero(computed & (tissue | (classes > 0))))
        self.tissue_not_computed += int(np.count_nonzero(tissue & ~computed))

    def result(self, mpp: tuple[float, float], class_names: tuple[str, ...]) -> ClassAreas:
        """The areas in mm², for mask pixels of ``mpp`` µm (y, x)."""
        mm2 = mpp[0] * mpp[1] / 1e6
        return ClassAreas(
            by_class={name: float(count * mm2)
                      for name, count in zip(class_names, self.class_pixels)},
            tumour_mm2=float(self.class_pixels[1:].sum() * mm2),
            tissue_mm2=float(self.tissue_pixels * mm2),
            tissue_not_computed_mm2=float(self.tissue_not_computed * mm2),
            tissue_source=TISSUE_FROM_COMPUTED if self.tissue is None else TISSUE_FROM_THUMBNAIL)
