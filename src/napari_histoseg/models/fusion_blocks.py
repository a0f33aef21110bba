"""The fusion modules of the edge-guided cross-modal network (fusion paper §III).

- ``DetailFusion``: SE-adjusted 40x detail features fused into the key region of
  the 10x target features (§III-A, Fig. 5).
- ``EDFM``: the CK5/6 semantic and edge encoder features fused by channel
  attention, an attention gate and a depthwise-separable conv (§III-B, Fig. 6).
- ``AxialCrossAttention`` and ``MSFFM``: H&E decoder features fused with CK5/6
  edge decoder features, level by level (§III-C, Fig. 7, Eq. 4-6).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from napari_histoseg.models.blocks import (ChannelAttention, ConvNormAct, DepthwiseSeparableConv,
                                           SpatialAttention, SqueezeExcite, upsample_to)


def box_list(boxes: torch.Tensor | list, batch: int, size: tuple[int, int]) -> list[tuple[int, ...]]:
    """Validate key-region boxes (y0, x0, y1, x1) in input pixels: one per sample, inside ``size``."""
    rows = [tuple(int(v) for v in row) for row in
            (boxes.tolist() if isinstance(boxes, torch.Tensor) else boxes)]
    if len(rows) != batch or any(len(row) != 4 for row in rows):
        raise ValueError(f"box must be (B, 4) = (y0, x0, y1, x1) per sample for B={batch}, got {rows}")
    for y0, x0, y1, x1 in rows:
        if not (0 <= y0 < y1 <= size[0] and 0 <= x0 < x1 <= size[1]):
            raise ValueError(f"key-region box {(y0, x0, y1, x1)} is empty or outside the "
                             f"{size[0]}x{size[1]} input; give (y0, x0, y1, x1) with y0 < y1, x0 < x1")
    return rows


class DetailFusion(nn.Module):
    """Fuse detail-branch features into the key region of the target features.

    The detail map is channel-adjusted by SE and a 1x1 conv, resized to the box,
    concatenated with the cropped target features, smoothed by a 3x3 Conv-BN-ReLU
    and added back into the crop (§III-A: "fused ... smoothed, and the updated
    result is used to refine X_aim").

    target (B, Ca, H, W), detail (B, Cd, h, w), boxes (B, 4) in target pixels
    -> (B, Ca, H, W), changed only inside each box.
    """

    def __init__(self, target_channels: int, detail_channels: int):
        super().__init__()
        self.adjust = nn.Sequential(SqueezeExcite(detail_channels),
                                    nn.Conv2d(detail_channels, target_channels, 1))
        self.smooth = ConvNormAct(2 * target_channels, target_channels)

    def forward(self, target: torch.Tensor, detail: torch.Tensor,
                boxes: torch.Tensor | list) -> torch.Tensor:
        rows = box_list(boxes, target.shape[0], tuple(target.shape[-2:]))
        detail = self.adjust(detail)
        fused = target.clone()
        for index, (y0, x0, y1, x1) in enumerate(rows):
            crop = target[index:index + 1, :, y0:y1, x0:x1]
            zoomed = upsample_to(detail[index:index + 1], crop.shape[-2:])
            fused[index:index + 1, :, y0:y1, x0:x1] = crop + self.smooth(torch.cat([crop, zoomed], 1))
        return fused


class EDFM(nn.Module):
    """Edge detection fusion module: (B, C, H, W) semantic and edge features -> (B, C, H, W).

    Channel attention on each input, concatenation, an attention gate that
    weights every pixel, then a depthwise-separable conv back to C channels.
    """

    def __init__(self, channels: int):
        super().__init__()
        hidden = max(channels // 2, 4)
        self.semantic_attention = ChannelAttention(channels)
        self.edge_attention = ChannelAttention(channels)
        self.gate = nn.Sequential(nn.Conv2d(2 * channels, hidden, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(hidden, 1, 1), nn.Sigmoid())
        self.mix = DepthwiseSeparableConv(2 * channels, channels)

    def forward(self, semantic: torch.Tensor, edge: torch.Tensor) -> torch.Tensor:
        joined = torch.cat([self.semantic_attention(semantic), self.edge_attention(edge)], dim=1)
        return self.mix(joined * self.gate(joined))


class AxialCrossAttention(nn.Module):
    """Cross-attention along rows and along columns (Eq. 4-6): Q from H&E, K and V from CK5/6.

    he, ck (B, C, H, W) -> F_hor + F_ver, (B, C, H, W). Each row (column) of Q
    attends over the same row (column) of K, so memory grows as H W (H + W), not (H W)^2.
    """

    def __init__(self, channels: int, key_channels: int | None = None):
        super().__init__()
        key_channels = key_channels or max(channels // 8, 8)
        self.query = nn.ModuleList(nn.Conv2d(channels, key_channels, 1) for _ in range(2))
        self.key = nn.ModuleList(nn.Conv2d(channels, key_channels, 1) for _ in range(2))
        self.value = nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in range(2))

    def forward(self, he: torch.Tensor, ck: torch.Tensor) -> torch.Tensor:
        rows = self._attend(he, ck, axis=0)
        columns = self._attend(he.transpose(2, 3), ck.transpose(2, 3), axis=1).transpose(2, 3)
        return rows + columns

    def _attend(self, he: torch.Tensor, ck: torch.Tensor, axis: int) -> torch.Tensor:
        """Attention within each row of (B, C, H, W): sequences of length W, H*B of them."""
        q, k, v = self.query[axis](he), self.key[axis](ck), self.value[axis](ck)
        batch, _, height, width = v.shape

        def sequences(t: torch.Tensor) -> torch.Tensor:
            return t.permute(0, 2, 3, 1).reshape(batch * height, width, t.shape[1])

        out = F.scaled_dot_product_attention(sequences(q), sequences(k), sequences(v))
        return out.reshape(batch, height, width, -1).permute(0, 3, 1, 2)


class MSFFM(nn.Module):
    """Multi-scale feature fusion module for one decoder level (Fig. 7a).

    he, ck (B, C, H, W) and the previous level's fusion (B, Cp, H', W') or None
    -> (B, C, H, W): spatial attention on each input, axial cross-attention,
    then channel attention over [he', ck', F_ACA, up(previous)] and a 1x1
    Conv-BN-ReLU back to C channels.
    """

    def __init__(self, channels: int, previous_channels: int = 0):
        super().__init__()
        joined = 3 * channels + previous_channels
        self.he_attention = SpatialAttention()
        self.ck_attention = SpatialAttention()
        self.cross = AxialCrossAttention(channels)
        self.channel_attention = ChannelAttention(joined)
        self.project = ConvNormAct(joined, channels, 1)

    def forward(self, he: torch.Tensor, ck: torch.Tensor,
                previous: torch.Tensor | None = None) -> torch.Tensor:
        he, ck = self.he_attention(he), self.ck_attention(ck)
        parts = [he, ck, self.cross(he, ck)]
        if previous is not None:
            parts.append(upsample_to(previous, he.shape[-2:]))
        return self.project(self.channel_attention(torch.cat(parts, dim=1)))
