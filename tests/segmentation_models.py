"""Tiny stand-in models with ``predict_logits``, for engine tests (no trained weights)."""

from __future__ import annotations

import torch
from torch import nn


class EchoModel(nn.Module):
    """Returns its input as the logits of 3 classes, and counts the tiles it saw."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.tiles_seen = 0

    def predict_logits(self, he: torch.Tensor) -> torch.Tensor:
        self.tiles_seen += he.shape[0]
        return he * self.scale


class PurpleModel(nn.Module):
    """Two classes: "tumour" where a pixel is more blue than green (purple-ish)."""

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(20.0))

    def predict_logits(self, he: torch.Tensor) -> torch.Tensor:
        tumour = (he[:, 2:3] - he[:, 1:2]) * self.gain
        return torch.cat([torch.zeros_like(tumour), tumour], dim=1)


class TileMeanModel(nn.Module):
    """Two classes, constant over each tile: tumour logit = 20 x (mean blue - mean green
    of the tile - 0.2). Neighbouring tiles see different windows, so they disagree where they
    overlap; the statistic is taken per tile in float64, so a tile's output does not
    depend on the batch it came in."""

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(20.0))

    def predict_logits(self, he: torch.Tensor) -> torch.Tensor:
        x = he.double()
        score = ((x[:, 2] - x[:, 1]).mean(dim=(1, 2)) - 0.2) * self.gain.double()
        tumour = score.view(-1, 1, 1, 1).expand(-1, 1, *he.shape[2:])
        return torch.cat([torch.zeros_like(tumour), tumour], dim=1).float()
