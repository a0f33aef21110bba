"""The engine's predictor for Grad-CAM: tiles in, one heatmap channel out (torch).

It reads, normalises and resizes tiles exactly as the segmentation predictor
does (it is one), then stores each tile's Seg-Grad-CAM map in [0, 1] as a
one-channel ``uint8`` prediction (x 255), so the engine's writer blends the
halos with the same sin² weights, and cancel and resume behave the same.
"""

from __future__ import annotations

import numpy as np

from napari_histoseg.explain.gradcam import GradCam, Region
from napari_histoseg.inference.predictor import Predictor


class GradCamPredictor(Predictor):
    """``predict((B, R, R, 3) uint8) -> ((B, 1, tile_size, tile_size) uint8 heat x 255, OOM
    notices)``.

    Args:
        model: a module with ``predict_logits``.
        layer, target_class, region: as for :class:`~napari_histoseg.explain.gradcam.GradCam`.
        device, normalisation, tile_size, batch_size: as for the segmentation predictor.
    """

    def __init__(self, model, layer: str | None, target_class: int, region: Region,
                 device: str | None, normalisation: dict | None, tile_size: int,
                 batch_size: int):
        super().__init__(model, device, normalisation, tile_size, batch_size)
        self.gradcam = GradCam(self.model, layer, target_class, region)

    def _infer(self, x) -> np.ndarray:
        import torch

        heat, _ = self.gradcam(x)
        return heat.mul_(255).round_().to(torch.uint8).unsqueeze(1).cpu().numpy()
