"""One forward pass of the fusion network on a ``training.fusion_patches`` batch, and its loss (torch).

The project's ``Trainer`` hands batches whose inputs are a dict (H&E + CK5/6 image,
40x detail crop, key-region box) here instead of to ``predict_logits``, so the
detail branch and the CK5/6 edge sub-branch are trained with every term of the
fusion paper's loss (Eq. 7-9), not only through the final segmentation.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from napari_histoseg.training.losses import fusion_loss

#: Weight of the binary cross-entropy of the edge map against the basal ring (not in the paper).
RING_BCE_WEIGHT = 1.0


def fusion_forward(model, inputs: dict, device):
    """``FusionOutput`` of ``model`` on a batch: inputs["image"] (B, 6, H, W) H&E then CK5/6,
    inputs["detail"] (B, 3, h, w) and inputs["box"] (B, 4) in ``image`` px."""
    image = inputs["image"].to(device, non_blocking=True)
    return model(image[:, :3], detail=inputs["detail"].to(device, non_blocking=True),
                 box=inputs["box"], ck56=image[:, 3:])


def fusion_batch_loss(model, inputs: dict, targets: dict, device) -> torch.Tensor:
    """L = (0.5 Dice + 0.5 CE) on the segmentation + 0.5 CE on the detail crop
    + 0.5 (0.5 CE of the CK5/6 semantic map + 0.5 Dice of the edge map against the basal ring),
    the paper's Eq. 7-9, plus ``RING_BCE_WEIGHT`` x binary cross-entropy on the edge map: with
    Dice alone (weight 0.25) the sparse ring target let the edge sigmoid saturate over all
    tissue, and a small weight left it a blur over the tumour."""
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        out = fusion_forward(model, inputs, device)
    seg, edge = targets["seg"].to(device, non_blocking=True), targets["edge"].to(device)
    loss = fusion_loss(out.seg.float(), seg,
                       high_logits=out.high.float(), high_target=targets["high"].to(device),
                       semantic_logits=out.semantic.float(), semantic_target=seg,
                       edge_logits=out.edge.float(), edge_target=edge).total
    ring_bce = F.binary_cross_entropy_with_logits(out.edge.float()[:, 0], edge.float())
    return loss + RING_BCE_WEIGHT * ring_bce


def item_logits(model, image, device) -> torch.Tensor:
    """(1, C, H, W) logits of one dataset item: a plain (C_in, H, W) tensor through
    ``predict_logits``, a fusion-patches input dict through the whole network."""
    if isinstance(image, dict):
        batch = {name: value[None] for name, value in image.items()}
        return fusion_forward(model, batch, device).seg
    return model.predict_logits(image[None].to(device))
