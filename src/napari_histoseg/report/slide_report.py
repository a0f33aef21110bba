"""One pass over a workspace's mask that builds a :class:`SlideReport` (numpy, scipy).

The mask is the results' level 0 (the analysis grid, corrections included), read one band
of chunks at a time and never whole: for a 50,000² px grid a block holds at most one
chunk's height x ``block_width`` px. Every block feeds both the :class:`.AreaCounter` and
the :class:`.LesionScanner`, so areas and diameters are exact for the mask's pixels (no
coarser pyramid level, no resampling error). Lengths are in µm (the slide's µm/px times
the grid's downsample), positions in level-0 slide pixels, so a viewer can zoom there.

>>> report = build_report("slide.svs")                # doctest: +SKIP
>>> report.category, report.largest.diameter_mm       # doctest: +SKIP
('micro-metastasis', 1.42)
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from napari_histoseg.io.errors import SlideError
from napari_histoseg.io.workspace import ResultStore, Workspace, WorkspaceError
from napari_histoseg.report.areas import AreaCounter, ClassAreas, TissueLookup
from napari_histoseg.report.category import camelyon17_category
from napari_histoseg.report.diameters import max_feret_um
from napari_histoseg.report.lesions import LesionPixels, LesionScanner
from napari_histoseg.report.provenance import Provenance, read_provenance

#: Widest block read at once, in mask px (a whole number of chunks).
BLOCK_WIDTH = 8192


@dataclass(frozen=True)
class Lesion:
    """One connected lesion.

    Attributes:
        rank: 1 for the lesion with the longest diameter, then 2, 3...
        area_mm2: its area; ``class_mm2``: the area of each tumour class in it.
        diameter_um: longest (maximum Feret) diameter, µm.
        centroid: (y, x) in level-0 slide px; ``box``: (y0, x0, y1, x1) level-0 slide px.
    """

    rank: int
    area_mm2: float
    diameter_um: float
    centroid: tuple[float, float]
    box: tuple[float, float, float, float]
    class_mm2: dict[str, float]

    @property
    def diameter_mm(self) -> float:
        return self.diameter_um / 1000.0


@dataclass(frozen=True)
class SlideReport:
    """The numbers of one segmented slide; see :func:`build_report`.

    Attributes:
        slide: the slide's path ("" when the workspace does not name one).
        workspace: the workspace folder.
        slide_mpp: level-0 µm/px (y, x) of the slide; ``mask_mpp``: of the mask pixels.
        class_names, class_colors: from the checkpoint (class 0 is background).
        areas: per class, tumour and tissue; ``lesions``: longest diameter first.
        provenance: model, runs and corrections.
        created: UTC time the report was made.
    """

    slide: str
    workspace: str
    slide_mpp: tuple[float, float]
    mask_mpp: tuple[float, float]
    class_names: tuple[str, ...]
    class_colors: tuple[str, ...]
    areas: ClassAreas
    lesions: tuple[Lesion, ...]
    provenance: Provenance
    created: str = field(default_factory=lambda: datetime.datetime.now(
        datetime.timezone.utc).isoformat(timespec="seconds"))

    @property
    def name(self) -> str:
        return Path(self.slide).name if self.slide else Path(self.workspace).name

    @property
    def largest(self) -> Lesion | None:
        """The lesion with the longest diameter, or None."""
        return self.lesions[0] if self.lesions else None

    @property
    def category(self) -> str:
        """CAMELYON17 category of the slide (see :mod:`.category`)."""
        return camelyon17_category(self.largest.diameter_um if self.largest else None)

    @property
    def complete(self) -> bool:
        """Whether every tissue pixel was computed."""
        return self.areas.tissue_not_computed_mm2 == 0


def open_results(path: str | Path) -> tuple[Workspace, ResultStore]:
    """The workspace and results of a slide file or a workspace folder; nothing is created.

    Raises:
        WorkspaceError: no workspace or no results there, or damaged ones.
    """
    path = Path(path)
    if path.is_dir():
        workspace = Workspace.open(path)
    elif path.is_file():
        workspace = Workspace.find(path)
        if workspace is None:
            raise WorkspaceError(path, "this slide has no workspace yet; segment it first "
                                       "(histoseg segment or the Segment dock)")
    else:
        raise WorkspaceError(path, "neither a slide file nor a workspace folder")
    store = workspace.results()
    if store is None:
        raise WorkspaceError(workspace.root, "no segmentation results here; segment the slide "
                                             "first")
    return workspace, store


def build_report(path: str | Path, block_width: int = BLOCK_WIDTH) -> SlideReport:
    """Measure the mask of a slide file's (or workspace folder's) results.

    Raises:
        WorkspaceError: as :func:`open_results`.
    """
    workspace, store = open_results(path)
    spec, mask = store.spec, store.mask_levels()[0]
    n_classes = len(spec.class_names)
    areas = AreaCounter(n_classes, _tissue_lookup(workspace.slide_path, spec.grid.downsample))
    scanner = LesionScanner(mask.shape[1], n_classes)
    for location, block in iter_blocks(mask, block_width):
        areas.add(location, block)
        scanner.add(location, block)
    found = scanner.finish()
    lesions = _measure(found, spec.mpp, spec.grid.downsample, spec.class_names)
    return SlideReport(
        slide=str(workspace.slide_path or ""), workspace=str(workspace.root),
        slide_mpp=tuple(spec.slide_mpp), mask_mpp=tuple(spec.mpp),
        class_names=tuple(spec.class_names), class_colors=tuple(spec.class_colors),
        areas=areas.result(spec.mpp, spec.class_names), lesions=lesions,
        provenance=read_provenance(workspace.root, spec.model, spec.model_sha256))


def iter_blocks(array, block_width: int = BLOCK_WIDTH
                ) -> Iterator[tuple[tuple[int, int], np.ndarray]]:
    """((y, x), (h, w) block) of a 2-D zarr array, in bands one chunk high, raster order."""
    height, width = array.shape
    chunk_h, chunk_w = array.chunks
    step = chunk_w * max(1, block_width // chunk_w)
    for y in range(0, height, chunk_h):
        for x in range(0, width, step):
            try:
                block = np.asarray(array[y:y + chunk_h, x:x + step])
            except Exception as err:  # noqa: BLE001 - a damaged chunk becomes one clear message
                raise WorkspaceError(Path(str(array.store.root)), (
                    f"the mask cannot be read at rows {y}-{y + chunk_h}, columns {x}-{x + step} "
                    f"({type(err).__name__}: {err}); recompute the results with 'Start over' "
                    "in the Segment dock or `histoseg segment --restart`")) from err
            yield (y, x), block


def _tissue_lookup(slide_path: Path | None, downsample: float) -> TissueLookup | None:
    """The slide's thumbnail tissue mask, or None when the slide cannot be opened."""
    if slide_path is None or not Path(slide_path).is_file():
        return None
    from napari_histoseg.io.slide import open_slide
    from napari_histoseg.tissue import tissue_mask

    try:
        tissue = tissue_mask(open_slide(slide_path))
    except SlideError:
        return None
    return TissueLookup(tissue.mask, (downsample / tissue.downsample[0],
                                      downsample / tissue.downsample[1]))


def _measure(found: list[LesionPixels], mpp: tuple[float, float], downsample: float,
             class_names: tuple[str, ...]) -> tuple[Lesion, ...]:
    """Lesions in µm and level-0 slide px, longest diameter first (then larger area)."""
    px_mm2 = mpp[0] * mpp[1] / 1e6
    measured = []
    for lesion in found:
        measured.append(dict(
            area_mm2=float(lesion.pixels * px_mm2),
            diameter_um=max_feret_um(lesion.centres, mpp),
            centroid=(lesion.centroid[0] * downsample, lesion.centroid[1] * downsample),
            box=tuple(float(v * downsample) for v in lesion.box),
            class_mm2={name: float(count * px_mm2) for name, count
                       in zip(class_names[1:], lesion.class_pixels[1:])}))
    measured.sort(key=lambda m: (-m["diameter_um"], -m["area_mm2"]))
    return tuple(Lesion(rank=i + 1, **m) for i, m in enumerate(measured))
