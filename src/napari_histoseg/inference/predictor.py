"""Runs a model on batches of RGB tiles and returns class probabilities.

Tiles arrive as (B, R, R, 3) uint8; they are moved to the device, scaled to
0-1, normalised, resized to ``tile_size`` if they were read at another scale,
passed through ``model.predict_logits`` (once per flipped view, ``flip_views``,
their softmax averaged); softmax and quantisation to uint8
(probability x 255, rounded) happen on the device, so only (B, C, tile_size,
tile_size) uint8 crosses to the CPU (a quarter of float32). When CUDA runs out of memory the
batch is split in halves and retried, and later batches stay smaller; out of memory with one
tile per batch, or NaN/infinite outputs, raise ``ModelRunError`` with what to do.
"""

from __future__ import annotations

import time

import numpy as np

from napari_histoseg.inference.events import BatchSizeReduced
from napari_histoseg.inference.flip_views import averaged_probabilities, check_views
from napari_histoseg.models.device import (inference_context, prepare_batch, prepare_model,
                                            select_device)


class ModelRunError(ValueError):
    """The model cannot produce usable output on this device (out of memory, NaN)."""


def _is_out_of_memory(err: BaseException) -> bool:
    import torch

    return isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err)


class Predictor:
    """Model + device + normalisation; ``predict`` maps uint8 tiles to probabilities."""

    def __init__(self, model, device: str | None, normalisation: dict | None, tile_size: int,
                 batch_size: int, flips: int = 1):
        import torch

        self.flips = check_views(flips)
        self.device = select_device(device)
        self.model = prepare_model(model, self.device)
        self.tile_size, self.batch_size = tile_size, batch_size
        self.seconds = 0.0
        norm = normalisation or {"mean": [0.0] * 3, "std": [1.0] * 3}
        self._mean = torch.tensor(norm["mean"], dtype=torch.float32).view(1, 3, 1, 1).to(self.device)
        self._std = torch.tensor(norm["std"], dtype=torch.float32).view(1, 3, 1, 1).to(self.device)

    def predict(self, pixels: np.ndarray, indices: np.ndarray | None = None
                ) -> tuple[np.ndarray, list[BatchSizeReduced]]:
        """(B, R, R, 3) uint8 -> ((B, C, tile_size, tile_size) uint8 probability x 255,
        OOM notices). ``indices`` (B,) are the tiles' flat grid indices, for predictors
        that read more of the slide around a tile (the fusion network's detail crops)."""
        start = time.perf_counter()
        reductions: list[BatchSizeReduced] = []
        parts, position = [], 0
        while position < len(pixels):
            chunk = pixels[position:position + self.batch_size]
            try:
                parts.append(self._forward(
                    chunk, None if indices is None else indices[position:position + len(chunk)]))
                position += len(chunk)
            except RuntimeError as err:
                if not _is_out_of_memory(err):
                    raise
                if self.batch_size == 1:
                    raise ModelRunError(
                        f"{self.device} ran out of memory with a single {self.tile_size}² tile "
                        "per batch; close other programs using the device, choose a smaller "
                        "model or tile size, or run on the CPU") from err
                reductions.append(self._shrink(err))
        self.seconds += time.perf_counter() - start
        return np.concatenate(parts), reductions

    def _shrink(self, err: BaseException) -> BatchSizeReduced:
        import torch

        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        previous, self.batch_size = self.batch_size, max(self.batch_size // 2, 1)
        return BatchSizeReduced(self.batch_size, (
            f"{self.device} ran out of memory with {previous} tiles per batch; "
            f"retrying with {self.batch_size}"))

    def _forward(self, pixels: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        return self._infer(self._prepare(pixels))

    def _prepare(self, pixels: np.ndarray, size: int | None = None):
        """(B, R, R, 3) uint8 -> (B, 3, size, size) normalised float on the device
        (``size``: ``tile_size`` by default)."""
        import torch
        import torch.nn.functional as F

        tensor = torch.from_numpy(np.ascontiguousarray(pixels))
        if self.device.type == "cuda":
            tensor = tensor.pin_memory()
        x = tensor.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255)
        repeat = x.shape[1] // 3            # a registered pair: H&E RGB then CK5/6 RGB
        x = (x - self._mean.repeat(1, repeat, 1, 1)) / self._std.repeat(1, repeat, 1, 1)
        size = size or self.tile_size
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size,) * 2, mode="bilinear",
                              antialias=x.shape[-1] > size, align_corners=False)
        return prepare_batch(x, self.device)

    def _infer(self, x) -> np.ndarray:
        """Normalised batch -> (B, C, tile_size, tile_size) uint8 softmax x 255 on the CPU,
        averaged over ``flips`` flipped views."""
        with inference_context(self.device):
            return _quantised(averaged_probabilities(self.model.predict_logits, x, self.flips,
                                                     check=self._check_finite))

    def _probabilities(self, logits) -> np.ndarray:
        """(B, C, H, W) logits -> (B, C, H, W) uint8 softmax x 255 on the CPU; ModelRunError
        when any is NaN or infinite."""
        import torch

        self._check_finite(logits)
        return _quantised(torch.softmax(logits.float(), dim=1))

    @staticmethod
    def _check_finite(logits) -> None:
        """ModelRunError when any of (B, C, H, W) ``logits`` is NaN or infinite."""
        import torch

        if not bool(torch.isfinite(logits).all()):
            bad = int((~torch.isfinite(logits)).flatten(1).any(1).sum())
            raise ModelRunError(
                f"the model gave NaN or infinite outputs for {bad} of {len(logits)} tiles; "
                "its weights are damaged or it does not fit this input (check the checkpoint's "
                "normalisation and µm/px, or retrain it); nothing was written for these tiles")


def _quantised(probabilities) -> np.ndarray:
    """(B, C, H, W) float probabilities -> uint8 x 255 on the CPU (quantised on the device)."""
    import torch

    return probabilities.mul_(255).round_().to(torch.uint8).cpu().numpy()
