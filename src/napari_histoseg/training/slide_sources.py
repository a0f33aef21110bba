"""Training sources backed by slides: a slide with a label pyramid, a synthetic pair, and a
slide workspace's corrections.

A slide is read at one ``level`` in square regions (``region`` px at that level);
each region with any tissue or tumour becomes a :class:`SourceImage` of the
slide's single split group, so a slide never straddles two splits. The stain
statistics are fitted once per slide on the thumbnail's tissue, so every region
is normalised alike. Labels > 0 are tumour unless ``binary`` is False.

Corrections (``io.corrections``) give one image per committed record, each its own split
group (a slide's corrections are then spread over train, validation and test); pixels that
a later record re-edited are ignored (label 255), so each pixel's latest word counts once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_histoseg.training.sources import IGNORE_LABEL, SourceError, SourceImage


@dataclass(frozen=True)
class SlideSource:
    """A slide file and its label pyramid TIFF (same level shapes)."""

    name: str
    path: Path
    labels: Path
    level: int = 0
    region: int = 2048
    weight: float = 1.0
    binary: bool = True
    split: str | None = None

    def groups(self) -> list[str]:
        return [self.name]

    def __iter__(self) -> Iterator[SourceImage]:
        from napari_histoseg.io.labels import open_label_pyramid
        from napari_histoseg.io.slide import open_slide
        from napari_histoseg.stain import StainError, StainStats
        from napari_histoseg.tissue import detect_tissue

        slide = open_slide(self.path)
        labels = open_label_pyramid(self.labels)
        if self.level >= min(len(labels), len(slide.levels)):
            raise SourceError(self.labels, f"level {self.level} missing in the slide or its labels")
        if tuple(labels[self.level].shape) != slide.level_shapes[self.level]:
            raise SourceError(self.labels, f"labels level {self.level} is {labels[self.level].shape}, "
                                           f"the slide's is {slide.level_shapes[self.level]}")
        mpp = slide.level_mpp(self.level)
        if mpp is None:
            raise SourceError(self.path, "the slide states no µm/px; a slide source needs it")
        thumbnail = slide.thumbnail()
        try:
            stain = StainStats.fit(thumbnail, detect_tissue(thumbnail))
        except StainError:
            stain = None
        for y, x, h, w in self._regions(slide.level_shapes[self.level]):
            image = slide.read_region(self.level, (y, x), (h, w))
            mask = np.asarray(labels[self.level][y:y + h, x:x + w])
            mask = (mask > 0).astype(np.uint8) if self.binary else mask.astype(np.uint8)
            yield SourceImage(self.name, f"{self.name}@{y},{x}", self.name, float(np.mean(mpp)),
                              image, mask, self.weight, stain)

    def _regions(self, shape: tuple[int, int]):
        for y in range(0, shape[0], self.region):
            for x in range(0, shape[1], self.region):
                yield y, x, min(self.region, shape[0] - y), min(self.region, shape[1] - x)


def synthetic_source(name: str, folder: Path, seed: int, size: tuple[int, int], level: int,
                     weight: float = 1.0, split: str | None = None) -> SlideSource:
    """A synthetic H&E slide with its tumour truth, generated into ``folder`` once."""
    from napari_histoseg.io.synthetic import SynthConfig, generate_pair, read_pair

    try:
        pair = read_pair(folder)
        if pair.config.seed != seed or tuple(pair.config.size) != tuple(size):
            raise ValueError("another slide")
    except (FileNotFoundError, ValueError, OSError):
        pair = generate_pair(folder, SynthConfig(size=tuple(size), seed=seed))
    return SlideSource(name, pair.he_path, pair.tumour_path, level, weight=weight, split=split)


@dataclass(frozen=True)
class CorrectionSource:
    """The committed corrections in a slide's workspace folder."""

    name: str
    path: Path
    weight: float = 1.0
    split: str | None = None

    def groups(self) -> list[str]:
        from napari_histoseg.io.corrections import CorrectionStore

        return [f"{self.name}/{entry['record_id']}"
                for entry in CorrectionStore(self.path / "corrections").entries()]

    def __iter__(self) -> Iterator[SourceImage]:
        from napari_histoseg.io.correction_samples import correction_samples

        for sample in correction_samples(self.path):
            record = sample.provenance["record_id"]
            mask = np.where(sample.weight > 0, sample.mask, IGNORE_LABEL).astype(np.uint8)
            yield SourceImage(self.name, record, f"{self.name}/{record}", float(np.mean(sample.mpp)),
                              sample.image, mask, self.weight)
