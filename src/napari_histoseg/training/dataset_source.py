"""A built dataset as a source of another build: its patches keep their splits.

Used to grow a dataset, e.g. a dataset folder plus a slide's corrections for
retraining. Its patches are already at the dataset's µm/px and stain; the
builder's Reinhard step maps them onto the same reference again (near the
identity), so mixing them with raw sources is safe.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from napari_histoseg.training.dataset_format import read_manifest
from napari_histoseg.training.sources import SourceImage, read_pixels, read_rgb


@dataclass(frozen=True)
class DatasetSource:
    """Every patch of the built dataset at ``path``, in the split it already has."""

    name: str
    path: Path
    weight: float = 1.0
    split: str | None = None

    def groups(self) -> list[str]:
        return sorted({patch.group for patch in read_manifest(self.path).patches})

    def stored_splits(self) -> dict[str, str]:
        """Group -> split as stored, so that nothing moves between splits."""
        return {patch.group: patch.split for patch in read_manifest(self.path).patches}

    def __iter__(self) -> Iterator[SourceImage]:
        manifest = read_manifest(self.path)
        for patch in manifest.patches:
            yield SourceImage(self.name, patch.id, patch.group, manifest.mpp,
                              read_rgb(self.path / patch.image), read_pixels(self.path / patch.mask),
                              self.weight * patch.weight)
