"""HI-Net: a ResNet feature pyramid with top-down attention and a shortcut semantic branch.

Follows HI-Net §3 (Fig. 4-6): a ResNet-101 bottom-up path; a top-down path whose
levels pass the deeper map through the TDA module (Conv-GN(G=6)-ReLU, then CBAM
channel attention and spatial attention, Eq. 6) before the lateral sum; and a
semantic branch in which the shortcut module (Conv-GN-ReLU-Upsample) brings every
pyramid level to one size and width in a single step, instead of the progressive
conv-and-upsample stages summed level by level. A 1x1 head gives per-pixel
tumour / non-tumour logits, upsampled to the input size.

The paper's Mask R-CNN style box and class heads are not built: the plugin needs
a per-pixel map, so the semantic branch ends in a pixel classifier trained with
cross-entropy (HI-Net §4.1).

``tda=False, shortcut=False`` gives the plain FPN baseline of the ablation (§5.1).
GroupNorm uses G = 6, so the pyramid widths are multiples of 6: 252 and 126 stand
in for the usual 256 and 128.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from napari_histoseg.models.backbones import ResNetEncoder
from napari_histoseg.models.blocks import (ChannelAttention, ConvNormAct, SpatialAttention,
                                           upsample_to)

HINET_SIZES = {
    "paper": dict(backbone_depth=101, backbone_width=64, backbone_layers=None,
                  pyramid_channels=252, semantic_channels=126),
    # The shipped real-tissue model: ResNet-18 layout at 3/8 width (see training/README.md).
    "small": dict(backbone_depth=18, backbone_width=24, backbone_layers=(2, 2, 2, 2),
                  pyramid_channels=48, semantic_channels=24),
    "tiny": dict(backbone_depth=50, backbone_width=8, backbone_layers=(1, 1, 1, 1),
                 pyramid_channels=48, semantic_channels=24),
}


class TopDownAttention(nn.Sequential):
    """TDA (HI-Net §3.1, Fig. 5): transition Conv-GN-ReLU, channel then spatial attention.

    (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int, groups: int = 6):
        super().__init__(ConvNormAct(channels, channels, 3, norm="gn", groups=groups),
                         ChannelAttention(channels), SpatialAttention())


class TopDownLevel(nn.Module):
    """One top-down step: p_l = lateral(c_l) + up(TDA(p_{l+1})).

    Without TDA this is the plain FPN step, smooth(lateral(c_l) + up(p_{l+1})),
    with its 3x3 output conv; TDA replaces that conv (§3: "refining the FPN's
    traditional multi-convolution approach").
    """

    def __init__(self, in_channels: int, channels: int, tda: bool, groups: int):
        super().__init__()
        self.lateral = nn.Conv2d(in_channels, channels, 1)
        self.attention = TopDownAttention(channels, groups) if tda else nn.Identity()
        self.smooth = nn.Identity() if tda else nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, higher: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        lateral = self.lateral(c)
        return self.smooth(lateral + upsample_to(self.attention(higher), lateral.shape[-2:]))


class ShortcutModule(nn.Sequential):
    """Shortcut (HI-Net §3.2, Fig. 6): Conv-GN-ReLU, then one upsample by ``scale``.

    (B, in_channels, H, W) -> (B, out_channels, H * scale, W * scale).
    """

    def __init__(self, in_channels: int, out_channels: int, scale: int, groups: int):
        layers: list[nn.Module] = [ConvNormAct(in_channels, out_channels, 3, norm="gn", groups=groups)]
        if scale > 1:
            layers.append(nn.Upsample(scale_factor=scale, mode="bilinear", align_corners=False))
        super().__init__(*layers)


def progressive_stages(in_channels: int, out_channels: int, scale: int, groups: int) -> nn.Sequential:
    """The baseline semantic branch: log2(scale) stages of Conv-GN-ReLU-Upsample x2 (one conv if scale is 1)."""
    steps = max(int(math.log2(scale)), 1)
    layers: list[nn.Module] = []
    for step in range(steps):
        layers.append(ConvNormAct(in_channels if step == 0 else out_channels, out_channels, 3,
                                  norm="gn", groups=groups))
        if scale > 1:
            layers.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
    return nn.Sequential(*layers)


class HINet(nn.Module):
    """HI-Net for tumour vs non-tumour segmentation.

    Input (B, in_channels, H, W) normalised RGB, H and W multiples of 32;
    output (B, num_classes, H, W) logits. ``forward`` is ``predict_logits``.

    >>> net = HINet(backbone_depth=50, backbone_width=8, backbone_layers=(1, 1, 1, 1),
    ...             pyramid_channels=48, semantic_channels=24)
    >>> net(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 2, 64, 64])
    """

    def __init__(self, num_classes: int = 2, in_channels: int = 3, backbone_depth: int = 101,
                 backbone_width: int = 64, backbone_layers: tuple[int, ...] | None = None,
                 pyramid_channels: int = 252, semantic_channels: int = 126, gn_groups: int = 6,
                 tda: bool = True, shortcut: bool = True):
        super().__init__()
        self.backbone = ResNetEncoder(backbone_depth, backbone_width, backbone_layers, in_channels)
        c2, c3, c4, c5 = self.backbone.channels[1:]
        self.p5 = nn.Conv2d(c5, pyramid_channels, 1)
        self.p4 = TopDownLevel(c4, pyramid_channels, tda, gn_groups)
        self.p3 = TopDownLevel(c3, pyramid_channels, tda, gn_groups)
        self.p2 = TopDownLevel(c2, pyramid_channels, tda, gn_groups)
        branch = ShortcutModule if shortcut else progressive_stages
        # p2..p5 sit at strides 4, 8, 16, 32; the semantic branch brings all to stride 4.
        self.semantic = nn.ModuleList(branch(pyramid_channels, semantic_channels, scale, gn_groups)
                                      for scale in (1, 2, 4, 8))
        self.head = nn.Conv2d(semantic_channels, num_classes, 1)
        self.num_classes = num_classes

    def forward(self, he: torch.Tensor) -> torch.Tensor:
        _, c2, c3, c4, c5 = self.backbone(he)
        p5 = self.p5(c5)
        p4 = self.p4(p5, c4)
        p3 = self.p3(p4, c3)
        p2 = self.p2(p3, c2)
        size = p2.shape[-2:]
        semantic = sum(upsample_to(branch(p), size)
                       for branch, p in zip(self.semantic, (p2, p3, p4, p5)))
        return upsample_to(self.head(semantic), he.shape[-2:])

    def predict_logits(self, he: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised H&E -> (B, num_classes, H, W) logits."""
        return self(he)
