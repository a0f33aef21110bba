"""The edge-guided cross-modal fusion network for breast-cancer H&E segmentation.

Fusion paper §III (Fig. 3): an H&E semantic branch (a VGG-UNet target branch at
10x and a VGG-UNet detail branch on a 40x key region, joined by ``DetailFusion``),
a CK5/6 branch (an RGB semantic and a grayscale edge VGG encoder fused per level
by ``EDFM``, each decoded with the fused skips), and ``MSFFM`` at the four decoder
scales that fuses H&E decoder features with CK5/6 edge decoder features.

Outputs are collected in ``FusionOutput``. The final H&E segmentation is the
target branch's logits plus a correction from the multi-scale fusion, so the
same network runs, and was trained for, the H&E-only path used when no CK5/6
slide is paired (the fusion term is then left out, and a warning says so).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from napari_histoseg.models.backbones import VGG16_CONVS, VGGEncoder
from napari_histoseg.models.blocks import UNetDecoder, upsample_to
from napari_histoseg.models.fusion_blocks import EDFM, MSFFM, DetailFusion

EDGE_FUSION_SIZES = {
    "paper": dict(width=64, convs=VGG16_CONVS, decoder_channels=(256, 128, 64, 32)),
    "tiny": dict(width=8, convs=(1, 1, 1, 1, 1), decoder_channels=(32, 16, 16, 8)),
}
GRAY_WEIGHTS = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class FusionOutput:
    """What the fusion network returns; every map is at its input's resolution.

    seg: (B, num_classes, H, W) final H&E logits (background, in situ, invasive).
    aim: (B, num_classes, H, W) the H&E target branch alone (equal to seg without CK5/6).
    high: (B, num_classes, h, w) detail-branch logits on the 40x crop, or None.
    semantic: (B, num_classes, H, W) CK5/6 semantic logits, or None.
    edge: (B, 1, H, W) CK5/6 edge logits, or None.
    ck56_used: False when no CK5/6 input was given and the H&E branch ran alone.
    """

    seg: torch.Tensor
    aim: torch.Tensor
    high: torch.Tensor | None
    semantic: torch.Tensor | None
    edge: torch.Tensor | None
    ck56_used: bool


class VGGUNet(nn.Module):
    """VGG-16(-BN) encoder, four-block UNet decoder and a 1x1 head.

    (B, in_channels, H, W), H and W multiples of 16 -> logits (B, num_classes, H, W)
    and the decoder maps at strides 8, 4, 2, 1.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int,
                 convs: tuple[int, ...], decoder_channels: tuple[int, ...], batch_norm: bool = True):
        super().__init__()
        self.encoder = VGGEncoder(width, convs, in_channels, batch_norm)
        channels = self.encoder.channels
        self.decoder = UNetDecoder(channels[4], channels[:4], decoder_channels)
        self.head = nn.Conv2d(decoder_channels[-1], num_classes, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        *skips, bottleneck = self.encoder(x)
        features = self.decoder(bottleneck, skips)
        return self.head(features[-1]), features


class CK56Branch(nn.Module):
    """CK5/6 branch (§III-B): RGB semantic and grayscale edge encoders fused by EDFM.

    rgb (B, 3, H, W), gray (B, 1, H, W) -> semantic logits (B, num_classes, H, W),
    edge logits (B, 1, H, W) and the edge decoder's maps at strides 8, 4, 2, 1.
    EDFM fuses the four shallower encoder levels; both decoders take the fused
    maps as skips, starting from their own encoder's deepest level.
    """

    def __init__(self, num_classes: int, width: int, convs: tuple[int, ...],
                 decoder_channels: tuple[int, ...], batch_norm: bool = True):
        super().__init__()
        self.semantic_encoder = VGGEncoder(width, convs, 3, batch_norm)
        self.edge_encoder = VGGEncoder(width, convs, 1, batch_norm)
        channels = self.semantic_encoder.channels
        self.edfm = nn.ModuleList(EDFM(c) for c in channels[:4])
        self.semantic_decoder = UNetDecoder(channels[4], channels[:4], decoder_channels)
        self.edge_decoder = UNetDecoder(channels[4], channels[:4], decoder_channels)
        self.semantic_head = nn.Conv2d(decoder_channels[-1], num_classes, 1)
        self.edge_head = nn.Conv2d(decoder_channels[-1], 1, 1)

    def forward(self, rgb: torch.Tensor, gray: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        *semantic_skips, semantic_deep = self.semantic_encoder(rgb)
        *edge_skips, edge_deep = self.edge_encoder(gray)
        fused = [edfm(s, e) for edfm, s, e in zip(self.edfm, semantic_skips, edge_skips)]
        semantic = self.semantic_decoder(semantic_deep, fused)
        edge = self.edge_decoder(edge_deep, fused)
        return self.semantic_head(semantic[-1]), self.edge_head(edge[-1]), edge


class EdgeFusionNet(nn.Module):
    """Edge-guided cross-modal fusion network.

    ``forward(he, detail=None, box=None, ck56=None, ck56_gray=None) -> FusionOutput``:
    he (B, 3, H, W) normalised 10x H&E, H and W multiples of 16; detail
    (B, 3, h, w) the 40x read of the key region ``box`` (B, 4) = (y0, x0, y1, x1)
    in ``he`` pixels; ck56 (B, 3, H, W) the registered CK5/6 tile, and ck56_gray
    (B, 1, H, W) its grayscale (by default the ITU-R 601 luma of ck56).

    >>> net = EdgeFusionNet(width=8, convs=(1, 1, 1, 1, 1), decoder_channels=(32, 16, 16, 8))
    >>> out = net(torch.zeros(1, 3, 64, 64), detail=torch.zeros(1, 3, 64, 64),
    ...           box=torch.tensor([[16, 16, 32, 32]]), ck56=torch.zeros(1, 3, 64, 64))
    >>> out.seg.shape, out.high.shape, out.semantic.shape, out.edge.shape, out.ck56_used
    (torch.Size([1, 3, 64, 64]), torch.Size([1, 3, 64, 64]), torch.Size([1, 3, 64, 64]), torch.Size([1, 1, 64, 64]), True)
    """

    def __init__(self, num_classes: int = 3, width: int = 64, convs: tuple[int, ...] = VGG16_CONVS,
                 decoder_channels: tuple[int, ...] = (256, 128, 64, 32), batch_norm: bool = True,
                 detail_zoom: int = 4):
        super().__init__()
        if detail_zoom not in (1, 2, 4, 8):
            raise ValueError(f"detail_zoom (40x over 10x magnification) must be 1, 2, 4 or 8, got {detail_zoom}")
        unet = dict(num_classes=num_classes, width=width, convs=convs,
                    decoder_channels=decoder_channels, batch_norm=batch_norm)
        self.target = VGGUNet(3, **unet)
        self.detail = VGGUNet(3, **unet)
        # Eq. 1-2: detail features at stride `zoom` match the target's at stride 1.
        self.detail_level = 3 - int(math.log2(detail_zoom))
        self.detail_fusion = DetailFusion(decoder_channels[-1], decoder_channels[self.detail_level])
        self.ck56 = CK56Branch(**unet)
        previous = (0, *decoder_channels[:-1])
        self.msffm = nn.ModuleList(MSFFM(c, p) for c, p in zip(decoder_channels, previous))
        self.fusion_head = nn.Conv2d(decoder_channels[-1], num_classes, 1)
        self.num_classes = num_classes
        self._warned_without_ck56 = False

    def forward(self, he: torch.Tensor, detail: torch.Tensor | None = None,
                box: torch.Tensor | None = None, ck56: torch.Tensor | None = None,
                ck56_gray: torch.Tensor | None = None) -> FusionOutput:
        high, target = self._he_branch(he, detail, box)
        aim = upsample_to(self.target.head(target[-1]), he.shape[-2:])
        if ck56 is None:
            self._warn_without_ck56()
            return FusionOutput(aim, aim, high, None, None, ck56_used=False)
        if ck56_gray is None:
            weights = ck56.new_tensor(GRAY_WEIGHTS).view(1, 3, 1, 1)
            ck56_gray = (ck56 * weights).sum(dim=1, keepdim=True)
        semantic, edge, edge_features = self.ck56(ck56, ck56_gray)
        fused = None
        for msffm, he_level, ck_level in zip(self.msffm, target, edge_features):
            fused = msffm(he_level, ck_level, fused)
        seg = aim + upsample_to(self.fusion_head(fused), he.shape[-2:])
        return FusionOutput(seg, aim, high, semantic, edge, ck56_used=True)

    def edge_logits(self, ck56: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised CK5/6 -> (B, 1, H, W) logits of the CK5/6 edge sub-branch alone
        (the H&E branches are not run; ``forward(...).edge`` gives the same map)."""
        weights = ck56.new_tensor(GRAY_WEIGHTS).view(1, 3, 1, 1)
        return self.ck56(ck56, (ck56 * weights).sum(dim=1, keepdim=True))[1]

    def predict_logits(self, he: torch.Tensor, ck56: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 3, H, W) normalised H&E (and optionally CK5/6) -> (B, num_classes, H, W) logits.

        A (B, 6, H, W) ``he`` is a registered pair stacked as H&E RGB then CK5/6 RGB
        (how the tiled engine and ``training.paired_patches`` hand pairs over).
        """
        if he.shape[1] == 6 and ck56 is None:
            he, ck56 = he[:, :3], he[:, 3:]
        return self(he, ck56=ck56).seg

    def _he_branch(self, he: torch.Tensor, detail: torch.Tensor | None,
                   box: torch.Tensor | None) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
        """Target decoder maps, with the detail branch fused into the key region when given."""
        if (detail is None) != (box is None):
            raise ValueError("give both detail (the 40x key region) and box (its (y0, x0, y1, x1) "
                             "in H&E pixels), or neither")
        _, target = self.target(he)
        if detail is None:
            return None, target
        high, detail_features = self.detail(detail)
        target[-1] = self.detail_fusion(target[-1], detail_features[self.detail_level], box)
        return high, target

    def _warn_without_ck56(self) -> None:
        if not self._warned_without_ck56:
            warnings.warn("No CK5/6 input: the fusion network runs its H&E branch alone, "
                          "without edge guidance (FusionOutput.ck56_used is False)", stacklevel=2)
            self._warned_without_ck56 = True
