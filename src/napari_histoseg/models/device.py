"""Device choice and the inference context: autocast and channels_last on CUDA, plain on CPU."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


def available_devices() -> list[str]:
    """Device types usable here, in order of preference: "cuda", "mps", "cpu"."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found + ["cpu"]


def select_device(preferred: str | torch.device | None = None) -> torch.device:
    """The device to run on: None or "auto" gives cuda, then mps, then cpu.

    An explicit choice ("cpu", "cuda", "cuda:1", "mps") that this machine lacks
    raises ValueError naming the devices that exist.
    """
    available = available_devices()
    if preferred is None or preferred == "auto":
        return torch.device(available[0])
    try:
        device = torch.device(preferred)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"unknown device {preferred!r}; use 'auto' or one of {available}") from error
    if device.type not in available:
        raise ValueError(f"device {preferred!r} is not available on this machine; "
                         f"available: {available}")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {preferred!r} does not exist: this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s)")
    return device


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision type for ``device``: bf16 where CUDA supports it, else fp16; None off CUDA."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextlib.contextmanager
def inference_context(device: torch.device | str) -> Iterator[None]:
    """``torch.inference_mode``, plus bf16/fp16 autocast on CUDA; nothing more on CPU or MPS."""
    device = torch.device(device)
    dtype = autocast_dtype(device)
    with torch.inference_mode():
        if dtype is None:
            yield
        else:
            with torch.autocast(device_type="cuda", dtype=dtype):
                yield


def prepare_model(model: nn.Module, device: torch.device | str) -> nn.Module:
    """Move ``model`` to ``device`` in eval mode, with channels_last memory format on CUDA."""
    device = torch.device(device)
    model = model.to(device).eval()
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model


def prepare_batch(batch: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """Move a (B, C, H, W) batch to ``device``; channels_last on CUDA, to match ``prepare_model``."""
    device = torch.device(device)
    batch = batch.to(device, non_blocking=device.type == "cuda")
    if device.type == "cuda":
        batch = batch.contiguous(memory_format=torch.channels_last)
    return batch
