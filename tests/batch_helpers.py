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
