"""The model path of the CK5/6 edge map: the fusion network's edge sub-branch as a workspace pyramid (torch).

Fusion paper §III-B: the CK5/6 branch has a grayscale edge sub-branch whose output
is an edge map. ``model_edge_pyramid`` runs that sub-branch alone
(``EdgeFusionNet.edge_logits``) over the registered CK5/6, tile by tile in the H&E
frame at the checkpoint's µm/px (CK5/6 tiles read through the registration,
``registered.RegisteredSlide``), and writes sigmoid x 255 as uint8 into
``<workspace>/edges_model.zarr``, the same pyramid format as the classical
``edges.zarr`` (``io.edge_store``: written beside its name and renamed into place,
so it is whole or absent). Tiles are read with a halo so that the map has no seams;
tiles whose CK5/6 is all glass are left 0.

>>> for fraction in model_edge_pyramid(view, model, normalisation, 2.0, workspace_root):  # doctest: +SKIP
...     print(f"{fraction:.0%}")
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import numpy as np

from napari_histoseg.inference.predictor import Predictor
from napari_histoseg.io.edge_store import MODEL_EDGES_NAME, EdgePyramid, write_pyramid
from napari_histoseg.models.device import inference_context

#: Core side and halo (px at the model's resolution) of the tiles the edge branch runs on.
TILE, HALO = 256, 32
#: A CK5/6 tile whose every pixel is this bright or more is glass: no edges computed there.
GLASS_LEVEL = 235


def model_edge_level(he, input_mpp: float) -> int:
    """The H&E level the model's edge map is computed on (the coarsest not coarser than ``input_mpp``)."""
    if not he.mpp:
        raise ValueError(f"{he.path}: the slide states no µm/px; the model's edge map needs one")
    return he.best_level_for_downsample(input_mpp / he.mpp[0])


def model_edge_pyramid(registered, model, normalisation: dict | None, input_mpp: float,
                       workspace_root: str | Path, device: str = "auto", model_name: str = ""
                       ) -> Generator[float, None, EdgePyramid]:
    """Compute the edge sub-branch's map of ``registered`` (a RegisteredSlide) into
    ``<workspace>/edges_model.zarr``; yields the fraction done (0-1), returns the pyramid.

    ``model`` is an ``EdgeFusionNet``; ``normalisation`` its checkpoint's RGB mean/std.
    """
    he = registered.he
    level = model_edge_level(he, input_mpp)
    shape, downsample = he.level_shapes[level], he.downsamples[level]
    meta = {"method": "fusion-edge-branch", "model": model_name, "level": level,
            "downsample": downsample, "mpp": [he.mpp[0] * downsample, he.mpp[1] * downsample],
            "slide_mpp": list(he.mpp), "registration": np.asarray(registered.registration.matrix).tolist()}
    run = _EdgeBranch(model, normalisation, device, TILE + 2 * HALO)

    def compute(y: int, x: int, size: tuple[int, int]) -> np.ndarray | None:
        rgb = registered.read_region(level, (y - HALO, x - HALO), (TILE + 2 * HALO,) * 2)
        if rgb.min() >= GLASS_LEVEL:
            return None
        return run(rgb)[HALO:HALO + size[0], HALO:HALO + size[1]]

    return (yield from write_pyramid(Path(workspace_root) / MODEL_EDGES_NAME, shape, meta, TILE, compute))


class _EdgeBranch(Predictor):
    """(h, w, 3) uint8 CK5/6 -> (h, w) uint8 sigmoid(edge logits) x 255, h and w multiples of 16;
    device, model placement and normalisation as the engine's :class:`Predictor`."""

    def __init__(self, model, normalisation: dict | None, device: str, side: int):
        super().__init__(model, device, normalisation, tile_size=side, batch_size=1)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        import torch

        x = self._prepare(rgb[None])
        with inference_context(self.device):
            logits = self.model.edge_logits(x)
        return torch.sigmoid(logits.float())[0, 0].mul(255).round().to(torch.uint8).cpu().numpy()


def prepared_model_edges(prepared) -> Generator[float, None, EdgePyramid] | None:
    """The model edge pyramid's generator for a prepared fusion run on a registered pair
    (``inference.session.PreparedRun``), or None when the run has no CK5/6 or no edge branch."""
    registered = getattr(prepared.slide, "registered", None)
    resolved = prepared.model
    if registered is None or not hasattr(resolved.model, "edge_logits") or not resolved.input_mpp:
        return None
    return model_edge_pyramid(registered, resolved.model, resolved.normalisation, resolved.input_mpp,
                              prepared.workspace.root, prepared.params.device, resolved.name)
