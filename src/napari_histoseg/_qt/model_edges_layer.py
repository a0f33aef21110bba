"""The "CK5/6 edges (model)" layer: the fusion network's edge map, beside the classical "CK5/6 edges (DAB)".

The worker side (``model_edge_steps``) runs ``inference.model_edges`` after a fusion
run on a registered pair and ends with a ``ModelEdgesReady`` event; the GUI side
(``show_model_edges``) adds or refreshes the layer: the pyramid in the workspace,
in µm, magenta and additive, so it reads apart from the green classical edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Layer metadata key: the H&E slide path the model edge layer belongs to.
MODEL_EDGES_OF_KEY = "histoseg_ck56_model_edges_of"
MODEL_EDGES_LAYER = "CK5/6 edges (model)"


@dataclass(frozen=True)
class ModelEdgesReady:
    """The model's edge pyramid of ``slide_path`` was written into the workspace ``root``."""

    slide_path: str
    root: Path


def model_edge_steps(prepared, cancel=None):
    """Worker-thread generator: the model edge map of a finished fusion run on a pair, then
    ``ModelEdgesReady``; nothing for other runs, or when ``cancel`` (an Event) is set first."""
    from napari_histoseg.inference.model_edges import prepared_model_edges

    steps = prepared_model_edges(prepared)
    if steps is None:
        return
    for _ in steps:
        if cancel is not None and cancel.is_set():
            steps.close()            # the half-built pyramid is discarded
            return
    yield ModelEdgesReady(str(prepared.slide.path), Path(prepared.workspace.root))


def show_model_edges(viewer, slide_path: str, root: Path):
    """Add (or refresh) the model edge layer of ``slide_path`` from ``root``; None when there is none."""
    import dask.array as da

    from napari_histoseg.io.edge_store import MODEL_EDGES_NAME, open_edges

    path = Path(root) / MODEL_EDGES_NAME
    if not path.exists():
        return None
    pyramid = open_edges(path)
    levels = [da.from_zarr(level) for level in pyramid.levels]
    existing = next((layer for layer in viewer.layers
                     if layer.metadata.get(MODEL_EDGES_OF_KEY) == str(slide_path)), None)
    if existing is not None:
        existing.data = levels
        return existing
    return viewer.add_image(levels, multiscale=True, name=MODEL_EDGES_LAYER, colormap="magenta",
                            blending="additive", contrast_limits=(0, 255), scale=pyramid.scale,
                            translate=pyramid.translate, units=("µm", "µm"),
                            metadata={MODEL_EDGES_OF_KEY: str(slide_path)})
