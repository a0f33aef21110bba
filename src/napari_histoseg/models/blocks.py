"""Layers shared by the backbones and both networks.

Every block keeps the spatial size of its input unless its name says otherwise
(``UpConv`` doubles it). Shapes are written (B, C, H, W).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm with ``groups`` groups; the channel count must divide evenly.

    HI-Net uses G = 6 (HI-Net §3.1, Eq. 5), so its widths are multiples of 6.
    """
    if channels % groups:
        raise ValueError(f"GroupNorm needs channels divisible by groups: {channels} channels, "
                         f"{groups} groups; pick a width that is a multiple of {groups}")
    return nn.GroupNorm(groups, channels)


class ConvNormAct(nn.Sequential):
    """Conv (no bias) - norm - ReLU. ``norm`` is "bn", or "gn" with ``groups``.

    (B, in_channels, H, W) -> (B, out_channels, H / stride, W / stride).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, norm: str = "bn", groups: int = 6):
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                         padding=kernel_size // 2, bias=False)
        if norm == "bn":
            normalise: nn.Module = nn.BatchNorm2d(out_channels)
        elif norm == "gn":
            normalise = group_norm(out_channels, groups)
        else:
            raise ValueError(f"norm must be 'bn' or 'gn', got {norm!r}")
        super().__init__(conv, normalise, nn.ReLU(inplace=True))


class ChannelAttention(nn.Module):
    """CBAM channel attention: a shared MLP on the average- and max-pooled channels.

    Returns the input re-weighted per channel, (B, C, H, W) -> (B, C, H, W)
    (CBAM, cited as [34] in HI-Net §3.1, Eq. 6: F' = M_c(F) * F).
    """

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
                                 nn.Conv2d(hidden, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(F.adaptive_avg_pool2d(x, 1))
        peak = self.mlp(F.adaptive_max_pool2d(x, 1))
        return x * torch.sigmoid(avg + peak)


class SpatialAttention(nn.Module):
    """CBAM spatial attention: a 7x7 conv over the channel mean and max.

    ``weights(x)`` gives the (B, 1, H, W) map in [0, 1]; calling the module
    multiplies it into x (Eq. 6: F'' = M_s(F') * F').
    """

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weights(x)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation: global average pool, bottleneck MLP, sigmoid gate per channel."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, hidden, 1),
                                  nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1),
                                  nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class DepthwiseSeparableConv(nn.Sequential):
    """3x3 depthwise conv then 1x1 pointwise conv, BN and ReLU: (B, Cin, H, W) -> (B, Cout, H, W)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class UNetDecoderBlock(nn.Module):
    """Upsample x2 (bilinear), concatenate the skip, then two 3x3 Conv-BN-ReLU.

    (B, in_channels, H, W) and skip (B, skip_channels, 2H, 2W) -> (B, out_channels, 2H, 2W).
    The upsampled map is resized to the skip's size, so odd sizes also work.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        self.convs = nn.Sequential(ConvNormAct(in_channels + skip_channels, out_channels),
                                   ConvNormAct(out_channels, out_channels))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.convs(torch.cat([x, skip], dim=1))


def upsample_to(x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinear resize of (B, C, h, w) to (B, C, *size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class UNetDecoder(nn.Module):
    """A UNet decoder of four ``UNetDecoderBlock``s, deepest skip first.

    bottleneck (B, bottleneck_channels, H/16, W/16) and skips
    [(B, skip_channels[i], H / 2**i, W / 2**i) for i = 0..3] -> four maps at
    strides 8, 4, 2, 1 with ``decoder_channels`` widths (coarse to fine).
    """

    def __init__(self, bottleneck_channels: int, skip_channels: tuple[int, ...],
                 decoder_channels: tuple[int, ...]):
        super().__init__()
        if len(skip_channels) != 4 or len(decoder_channels) != 4:
            raise ValueError(f"UNetDecoder needs four skips and four decoder widths, got "
                             f"{tuple(skip_channels)} and {tuple(decoder_channels)}")
        inputs = (bottleneck_channels, *decoder_channels[:-1])
        self.blocks = nn.ModuleList(
            UNetDecoderBlock(cin, skip, cout)
            for cin, skip, cout in zip(inputs, reversed(skip_channels), decoder_channels))

    def forward(self, bottleneck: torch.Tensor, skips: list[torch.Tensor]) -> list[torch.Tensor]:
        features, x = [], bottleneck
        for block, skip in zip(self.blocks, reversed(skips)):
            x = block(x, skip)
            features.append(x)
        return features
