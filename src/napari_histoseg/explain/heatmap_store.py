"""Where a slide's Grad-CAM heatmap lives: ``heatmap.zarr`` in its workspace.

The heatmap is a :class:`~napari_histoseg.io.results.ResultStore` with one
channel on the segmentation's grid, so it is the same OME-Zarr pyramid as the
probabilities (heat in [0, 1] stored x 254 as uint8, 255 = not computed, level k = 2**k
analysis px), kept exact by the same tile-by-tile updates, and resumed the
same way. Its spec records the model, layer, class and region, so a heatmap of
another layer or class is never resumed into it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace

from napari_histoseg.io.results import ResultSpec, ResultStore, WorkspaceError
from napari_histoseg.io.workspace import Workspace

HEATMAP_NAME = "heatmap.zarr"
#: Colour recorded for the heatmap's one channel.
HEATMAP_COLOR = "#ff8000"


@dataclass(frozen=True)
class HeatmapSettings:
    """What a heatmap explains: ``target_class`` (index and name) seen at ``layer``.

    ``region`` is "predicted" (the class's logits over the pixels predicted as it)
    or "tile" (over every pixel).
    """

    layer: str
    target_class: int
    class_name: str
    region: str = "predicted"


def heatmap_spec(results: ResultSpec, settings: HeatmapSettings) -> ResultSpec:
    """The heatmap store's spec: the segmentation's grid, one channel, the settings in its name."""
    return replace(results, class_names=(f"grad-cam {settings.class_name}",),
                   class_colors=(HEATMAP_COLOR,),
                   model=(f"{results.model} | grad-cam layer={settings.layer} "
                          f"class={settings.target_class} region={settings.region}"))


def heatmap_store_for(workspace: Workspace, spec: ResultSpec,
                      restart: bool = False) -> ResultStore:
    """The heatmap store for ``spec``: the existing one to resume, else a new one.

    A heatmap of other settings (layer, class, model or grid) is replaced: it is
    derived data, recomputed from the slide and the model.
    """
    path = workspace.root / HEATMAP_NAME
    with workspace.lock():
        if not restart and (path / "zarr.json").is_file():
            try:
                existing = ResultStore.open(path)
            except WorkspaceError:
                existing = None  # damaged: recomputed below
            if existing is not None and existing.spec == spec:
                return existing
        for stale in workspace.root.glob(f"{HEATMAP_NAME}.*-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a crash during creation
        return ResultStore.create(path, spec)


def open_heatmap(workspace: Workspace) -> ResultStore | None:
    """The workspace's heatmap store, or None when there is none (or it is damaged)."""
    path = workspace.root / HEATMAP_NAME
    if not (path / "zarr.json").is_file():
        return None
    try:
        return ResultStore.open(path)
    except WorkspaceError:
        return None
