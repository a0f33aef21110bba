"""Slides, models and single-process reference runs for the batch (dask.distributed) tests.

Imports no pytest, so dask workers in other processes can unpickle ``tile_mean_model``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from napari_histoseg.inference.session import (ResolvedModel, SegmentRequest, prepare_run,
                                                start_run)

from tests.conftest import tissue_like_rgb, write_pyramid_tiff


def tile_mean_model(spec: str) -> ResolvedModel:
    """A ModelCache loader: TileMeanModel, whose tile outputs do not depend on the batch."""
    from tests.segmentation_models import TileMeanModel

    return ResolvedModel(TileMeanModel(), spec, "", ("normal", "tumour"),
                         ("#000000", "#ff0000"), None, None, None)


class FailOnceLoader:
    """A ModelCache loader whose first call (marked by a file) raises OSError, as a
    transient fault would; later calls return the real checkpoint's model."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __call__(self, spec: str) -> ResolvedModel:
        from napari_histoseg.inference.session import resolve_model

        if not self.marker.exists():
            self.marker.touch()
            raise OSError("the shared file system hiccupped")
        return resolve_model(spec)


def write_slides(folder: Path, n: int, shape: tuple[int, int]) -> list[Path]:
    """``n`` small two-level pyramid TIFFs with different tissue, ``case-<i>.tif``."""
    folder.mkdir(parents=True, exist_ok=True)
    return [write_pyramid_tiff(folder / f"case-{i}.tif", tissue_like_rgb(shape, seed=i),
                               levels=2, tile=128) for i in range(n)]


def single_process_run(request: SegmentRequest, slide: Path, out: Path,
                       resolved: ResolvedModel | None = None) -> Path:
    """Segment ``slide`` into ``out`` in this process (the reference); the results path."""
    prepared = prepare_run(replace(request, slide_path=slide, out_dir=out), resolved,
                           warn=lambda message: None)
    for _ in start_run(prepared):
        pass
    return out / "results.zarr"
