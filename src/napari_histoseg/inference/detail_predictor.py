"""The engine's predictor for the fusion network with 40x detail crops (torch).

Per batch: a first pass of the network (H&E, and CK5/6 when the slide is a
registered pair) gives each tile's tumour probability; ``DetailCrops`` picks the
key region in the tile's core and reads it from the finer pyramid level; the
second pass runs with ``detail`` and ``box`` and its segmentation is what the
engine stores. It is a :class:`~napari_histoseg.inference.predictor.Predictor`,
so the engine's reading, blending, out-of-memory halving, cancel and resume are
unchanged; only ``_forward`` differs, and it needs the tiles' indices.
"""

from __future__ import annotations

import numpy as np

from napari_histoseg.inference.detail_crops import DetailCrops
from napari_histoseg.inference.predictor import Predictor
from napari_histoseg.models.device import inference_context


class DetailPredictor(Predictor):
    """``predict((B, R, R, 3 or 6) uint8, indices (B,)) -> ((B, C, tile_size, tile_size)
    uint8 probability x 255, OOM notices)`` with the fusion network's detail branch.

    Args:
        model: an ``EdgeFusionNet`` trained with detail crops.
        crops: where each tile's key region lies and how its detail is read.
        device, normalisation, tile_size, batch_size: as for :class:`Predictor`.
    """

    def __init__(self, model, crops: DetailCrops, device: str | None, normalisation: dict | None,
                 tile_size: int, batch_size: int):
        super().__init__(model, device, normalisation, tile_size, batch_size)
        self.crops = crops
        self.last_boxes: dict[int, tuple[int, int, int, int]] = {}   # the last batch's, by tile

    def _forward(self, pixels: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        import torch

        if indices is None:
            raise ValueError("the fusion network's detail crops need each tile's grid index; "
                             "call predict(pixels, indices)")
        x = self._prepare(pixels)
        he, ck56 = x[:, :3], (x[:, 3:] if x.shape[1] == 6 else None)
        with inference_context(self.device):
            first = self.model(he, ck56=ck56).seg
        tumour = 1.0 - torch.softmax(first.float(), dim=1)[:, 0].cpu().numpy()
        boxes = [self.crops.box(t) for t in tumour]
        self.last_boxes = dict(zip((int(i) for i in indices), boxes))
        detail = self._prepare(self.crops.read(indices, boxes), size=self.crops.out_size)
        with inference_context(self.device):
            logits = self.model(he, detail=detail, box=torch.tensor(boxes), ck56=ck56).seg
        return self._probabilities(logits)
