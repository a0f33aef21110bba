"""Tiny models whose Grad-CAM answer is known, for the explain tests."""

from __future__ import annotations

import torch
from torch import nn


class QuadrantModel(nn.Module):
    """Two classes; the tumour logit is driven by blue-over-green in one quadrant only.

    ``features`` (the layer to hook) is ReLU(blue - green - 0.1) per pixel, x4 channels;
    the tumour logit is those features summed over channels, zeroed outside the
    ``quadrant`` (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) of the tile.
    """

    def __init__(self, quadrant: int = 1):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU())
        with torch.no_grad():
            self.features[0].weight.zero_()
            self.features[0].weight[:, 2] = 1.0
            self.features[0].weight[:, 1] = -1.0
            self.features[0].bias.fill_(-0.1)
        self.head = nn.Conv2d(4, 1, 1)
        with torch.no_grad():
            self.head.weight.fill_(1.0)
            self.head.bias.fill_(0.0)
        self.quadrant = quadrant

    def predict_logits(self, he: torch.Tensor) -> torch.Tensor:
        tumour = self.head(self.features(he))
        h, w = he.shape[-2:]
        keep = torch.zeros(1, 1, h, w, device=he.device)
        top, left = divmod(self.quadrant, 2)
        keep[..., top * h // 2:(top + 1) * h // 2, left * w // 2:(left + 1) * w // 2] = 1.0
        tumour = tumour * keep - 0.5 * (1 - keep)
        return torch.cat([torch.zeros_like(tumour), tumour], dim=1)


class PurpleFeatureModel(nn.Module):
    """Two classes, the same everywhere: ``features`` (the layer to hook) is
    ReLU(blue - green - 0.1) per pixel (x4 channels); the tumour logit is
    4 x their sum - 1, so purple pixels are tumour and pink ones are not."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU())
        with torch.no_grad():
            self.features[0].weight.zero_()
            self.features[0].weight[:, 2] = 1.0
            self.features[0].weight[:, 1] = -1.0
            self.features[0].bias.fill_(-0.1)
        self.head = nn.Conv2d(4, 1, 1)
        with torch.no_grad():
            self.head.weight.fill_(4.0)
            self.head.bias.fill_(-1.0)

    def predict_logits(self, he: torch.Tensor) -> torch.Tensor:
        tumour = self.head(self.features(he))
        return torch.cat([torch.zeros_like(tumour), tumour], dim=1)
