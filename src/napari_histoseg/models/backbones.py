"""ResNet and VGG encoders that return multi-scale feature maps.

Both are written in plain torch, with configurable depth and width so that tests
and CPU demos can use tiny variants of the same architecture. No pretrained
weights are loaded (nothing is downloaded at run time).
"""

from __future__ import annotations

import torch
from torch import nn

from napari_histoseg.models.blocks import ConvNormAct

RESNET_LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
VGG16_CONVS = (2, 2, 3, 3, 3)


class BasicBlock(nn.Module):
    """Two 3x3 convs with an identity shortcut (ResNet-18/34): y = x + F(x) (HI-Net Eq. 4)."""

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        out = width * self.expansion
        self.residual = nn.Sequential(
            ConvNormAct(in_channels, width, 3, stride),
            nn.Conv2d(width, out, 3, padding=1, bias=False), nn.BatchNorm2d(out))
        self.shortcut = _projection(in_channels, out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.residual(x) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand by 4, with a shortcut (ResNet-50/101)."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        out = width * self.expansion
        self.residual = nn.Sequential(
            ConvNormAct(in_channels, width, 1), ConvNormAct(width, width, 3, stride),
            nn.Conv2d(width, out, 1, bias=False), nn.BatchNorm2d(out))
        self.shortcut = _projection(in_channels, out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.residual(x) + self.shortcut(x))


def _projection(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                         nn.BatchNorm2d(out_channels))


class ResNetEncoder(nn.Module):
    """ResNet returning [c1, c2, c3, c4, c5] at strides 2, 4, 8, 16, 32.

    ``depth`` picks the block (basic for 18/34, bottleneck for 50/101) and the
    default layer counts; ``layers`` overrides the counts; ``width`` is the stem
    width (64 in the paper). ``channels`` lists the five output widths.

    >>> encoder = ResNetEncoder(depth=50, width=8, layers=(1, 1, 1, 1))
    >>> [tuple(f.shape[1:]) for f in encoder(torch.zeros(1, 3, 64, 64))]
    [(8, 32, 32), (32, 16, 16), (64, 8, 8), (128, 4, 4), (256, 2, 2)]
    """

    def __init__(self, depth: int = 101, width: int = 64, layers: tuple[int, ...] | None = None,
                 in_channels: int = 3):
        super().__init__()
        if depth not in RESNET_LAYERS:
            raise ValueError(f"ResNet depth must be one of {sorted(RESNET_LAYERS)}, got {depth}")
        block = BasicBlock if depth < 50 else Bottleneck
        layers = tuple(layers or RESNET_LAYERS[depth])
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f"ResNet layers must be four counts >= 1, got {layers}")
        self.stem = ConvNormAct(in_channels, width, 7, stride=2)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        stages, channels, current = [], [width], width
        for index, count in enumerate(layers):
            stage_width = width * 2**index
            blocks = []
            for position in range(count):
                stride = 2 if (position == 0 and index > 0) else 1
                blocks.append(block(current, stage_width, stride))
                current = stage_width * block.expansion
            stages.append(nn.Sequential(*blocks))
            channels.append(current)
        self.stages = nn.ModuleList(stages)
        self.channels = tuple(channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c1 = self.stem(x)
        features, current = [c1], self.pool(c1)
        for stage in self.stages:
            current = stage(current)
            features.append(current)
        return features


class VGGEncoder(nn.Module):
    """VGG-16(-BN) returning the five stage outputs before pooling, at strides 1, 2, 4, 8, 16.

    ``width`` is the first stage's width (64 in VGG-16); the stages have
    width x (1, 2, 4, 8, 8) channels and ``convs`` 3x3 convs each ((2, 2, 3, 3, 3)
    in VGG-16). ``batch_norm=False`` gives plain VGG-16 (conv with bias, ReLU).

    >>> encoder = VGGEncoder(width=8, convs=(1, 1, 1, 1, 1))
    >>> [tuple(f.shape[1:]) for f in encoder(torch.zeros(1, 3, 64, 64))]
    [(8, 64, 64), (16, 32, 32), (32, 16, 16), (64, 8, 8), (64, 4, 4)]
    """

    def __init__(self, width: int = 64, convs: tuple[int, ...] = VGG16_CONVS,
                 in_channels: int = 3, batch_norm: bool = True):
        super().__init__()
        if len(convs) != 5 or min(convs) < 1:
            raise ValueError(f"VGG convs must be five counts >= 1, got {tuple(convs)}")
        self.channels = tuple(width * m for m in (1, 2, 4, 8, 8))
        stages, current = [], in_channels
        for count, out in zip(convs, self.channels):
            layers = []
            for _ in range(count):
                layers.append(ConvNormAct(current, out) if batch_norm else
                              nn.Sequential(nn.Conv2d(current, out, 3, padding=1), nn.ReLU(inplace=True)))
                current = out
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for index, stage in enumerate(self.stages):
            x = stage(x if index == 0 else self.pool(x))
            features.append(x)
        return features
