"""Grad-CAM for segmentation (Seg-Grad-CAM), with PyTorch forward hooks.

For a layer ``A`` (B, K, h, w) and a target class ``c``, the target is the sum
of class ``c``'s logits over the tile, or over a region of interest: by
default the pixels the model itself assigns to ``c`` (Seg-Grad-CAM). Each
channel's weight is its spatially averaged gradient, and the map is::

    cam = ReLU(sum_k alpha_k A_k),   alpha_k = mean_(y, x) d target / d A_k(y, x)

upsampled (bilinear) to the input size and divided by its maximum, so each
tile's heatmap lies in [0, 1]; a tile with no region of interest, or whose
map is zero everywhere, gets zeros.

Cost: the forward runs without autograd up to the hooked layer; its output is
detached there and becomes the one leaf that needs a gradient, so the backward
pass covers only the layers after it, and no parameter gradient is computed.
The hook is registered for one call and removed in ``finally``, whatever is
raised, and the captured tensors are dropped, so repeated calls keep nothing.

>>> import torch
>>> from napari_histoseg.models.hinet import HINet
>>> net = HINet(backbone_depth=50, backbone_width=8, backbone_layers=(1, 1, 1, 1),
...             pyramid_channels=48, semantic_channels=24).eval()
>>> heat, logits = GradCam(net, target_class=1)(torch.rand(2, 3, 64, 64))
>>> tuple(heat.shape), tuple(logits.shape), GradCam(net).layer
((2, 64, 64), (2, 2, 64, 64), 'p2')
"""

from __future__ import annotations

import contextlib
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from napari_histoseg.models.device import autocast_dtype

#: Default layer per architecture (class name -> module path): HI-Net's last
#: top-down level (p2, stride 4) and the fusion network's target-branch bottleneck.
DEFAULT_LAYERS = {"HINet": "p2", "EdgeFusionNet": "target.encoder.stages.4"}

Region = Literal["predicted", "tile"]


def default_layer(model: nn.Module) -> str:
    """The module path Grad-CAM hooks by default for ``model``'s architecture."""
    name = type(model).__name__
    if name not in DEFAULT_LAYERS:
        raise ValueError(f"no default Grad-CAM layer for a {name}; name one of its layers "
                         f"(e.g. {', '.join(layer_names(model)[-3:]) or 'none found'}) or use "
                         f"one of {', '.join(DEFAULT_LAYERS)}")
    return DEFAULT_LAYERS[name]


def layer_names(model: nn.Module) -> list[str]:
    """Paths of ``model``'s sub-modules, in registration order (the choices for ``layer``)."""
    return [name for name, _ in model.named_modules() if name]


class GradCam:
    """Seg-Grad-CAM of ``model`` at ``layer`` for ``target_class``.

    Args:
        model: a module with ``predict_logits((B, 3, H, W)) -> (B, C, H, W)``, in eval mode.
        layer: module path (``model.get_submodule``); None for the architecture's default.
        target_class: the class whose logits are explained.
        region: "predicted" sums the logits over the pixels predicted as the target
            class (a tile without any gets zeros); "tile" over every pixel.
    """

    def __init__(self, model: nn.Module, layer: str | None = None, target_class: int = 1,
                 region: Region = "predicted"):
        if region not in ("predicted", "tile"):
            raise ValueError(f"region must be 'predicted' or 'tile', got {region!r}")
        self.model = model
        self.layer = layer or default_layer(model)
        try:
            self.module = model.get_submodule(self.layer)
        except AttributeError as err:
            raise ValueError(f"the model has no layer {self.layer!r}; its layers end with "
                             f"{', '.join(layer_names(model)[-5:])}") from err
        self.target_class, self.region = target_class, region

    def __call__(self, x: torch.Tensor, roi: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) normalised input -> ((B, H, W) float32 heatmap in [0, 1],
        (B, C, H, W) detached logits).

        ``roi`` (B, H, W) bool overrides the region of interest.
        """
        captured: dict[str, torch.Tensor] = {}

        def keep_and_track(module, inputs, output):
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"Grad-CAM layer {self.layer!r} returns "
                                f"{type(output).__name__}, not a tensor; choose another layer")
            leaf = output.detach().requires_grad_(True)
            captured["activation"] = leaf
            torch.set_grad_enabled(True)  # autograd from here to the logits only
            return leaf

        handle = self.module.register_forward_hook(keep_and_track)
        try:
            with torch.no_grad(), _autocast(x.device):
                logits = self.model.predict_logits(x)
                activation = captured.get("activation")
                if activation is None:
                    raise RuntimeError(f"Grad-CAM layer {self.layer!r} did not run in the "
                                       "model's forward pass; choose another layer")
                target = self._target(logits, roi)
                if not target.requires_grad:  # the logits do not depend on this layer
                    raise RuntimeError(f"the logits do not depend on layer {self.layer!r}")
                (gradient,) = torch.autograd.grad(target, activation)
            return self._map(activation.detach(), gradient, x.shape[-2:]), logits.detach()
        finally:
            handle.remove()
            captured.clear()

    def _target(self, logits: torch.Tensor, roi: torch.Tensor | None) -> torch.Tensor:
        """Sum of the target class's logits over the region of interest (all samples)."""
        scores = logits[:, self.target_class].float()
        if roi is None and self.region == "predicted":
            roi = logits.detach().argmax(dim=1) == self.target_class
        return scores.sum() if roi is None else (scores * roi).sum()

    @staticmethod
    def _map(activation: torch.Tensor, gradient: torch.Tensor,
             size: torch.Size) -> torch.Tensor:
        weights = gradient.float().mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * activation.float()).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=tuple(size), mode="bilinear", align_corners=False)
        peak = cam.amax(dim=(2, 3), keepdim=True)
        cam = torch.where(peak > 0, cam / peak.clamp_min(1e-12), torch.zeros_like(cam))
        return cam[:, 0].clamp_(0.0, 1.0)


def _autocast(device: torch.device):
    dtype = autocast_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)
