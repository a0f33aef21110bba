"""Everything decided before the first tile is read: grid, tissue, tiles, result store.

>>> plan = plan_run(slide, Workspace.open(slide.path), GridParams(mpp=1.0),     # doctest: +SKIP
...                 ModelInfo("hinet", "ab12...", ("normal", "tumour"), ("#000000", "#ff0000")))
>>> plan.store.mask_levels(), len(plan.tiles), plan.notice                     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_histoseg.inference.reader import choose_resolution
from napari_histoseg.geometry import TileGrid
from napari_histoseg.io.workspace import ResultSpec, ResultStore, Workspace
from napari_histoseg.tissue import TissueMask, TissueParams, tiles_on_tissue, tissue_mask


@dataclass(frozen=True)
class GridParams:
    """Where and how to tile: a pyramid ``level`` or a target ``mpp`` (µm/px), not both.

    Attributes:
        tile_size: model input side in px; halo: overlap per side in px (<= tile_size / 4).
        slide_mpp: level-0 µm/px, one value or (y, x), to use when the file states none.
        min_tissue_fraction: tiles with no more tissue than this in their core are skipped.
    """

    level: int | None = None
    mpp: float | None = None
    tile_size: int = 512
    halo: int = 64
    slide_mpp: float | tuple[float, float] | None = None
    min_tissue_fraction: float = 0.01


@dataclass(frozen=True)
class ModelInfo:
    """What the results record about the model."""

    name: str
    sha256: str
    class_names: tuple[str, ...]
    class_colors: tuple[str, ...]


@dataclass(frozen=True)
class RunPlan:
    """A planned run: ``tiles`` are flat indices into ``store.spec.grid`` (tissue only).

    ``notice`` is a warning for the user (e.g. an assumed mpp), or "".
    """

    store: ResultStore
    tiles: np.ndarray
    read_level: int
    tissue: TissueMask
    notice: str = ""


def plan_run(slide, workspace: Workspace, grid_params: GridParams, model: ModelInfo,
             restart: bool = False, tissue_params: TissueParams = TissueParams()) -> RunPlan:
    """Choose the grid, detect tissue, and open (to resume) or create the result store.

    Raises:
        WorkspaceError: the workspace holds results of a different model or grid
            and ``restart`` is False.
    """
    resolution = choose_resolution(slide, grid_params.level, grid_params.mpp,
                                   grid_params.slide_mpp)
    grid = TileGrid(shape=resolution.shape, downsample=resolution.downsample,
                    tile_size=grid_params.tile_size, halo=grid_params.halo)
    spec = ResultSpec(grid=grid, slide_mpp=resolution.slide_mpp,
                      class_names=tuple(model.class_names),
                      class_colors=tuple(model.class_colors), model=model.name,
                      model_sha256=model.sha256)
    store = workspace.results_for(spec, restart=restart)
    tissue = tissue_mask(slide, params=tissue_params)
    tiles = tiles_on_tissue(grid, tissue, grid_params.min_tissue_fraction)
    return RunPlan(store=store, tiles=tiles, read_level=resolution.read_level, tissue=tissue,
                   notice=resolution.notice)
