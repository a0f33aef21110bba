"""Device selection and the inference context; the CUDA branches are checked by faking availability."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from napari_histoseg.models import device as devices  # noqa: E402


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(devices, "available_devices", lambda: ["cpu"])
    assert devices.select_device() == torch.device("cpu") == devices.select_device("auto")
    monkeypatch.setattr(devices, "available_devices", lambda: ["cuda", "mps", "cpu"])
    assert devices.select_device(None) == torch.device("cuda")


def test_unavailable_or_unknown_device_names_the_available_ones(monkeypatch):
    monkeypatch.setattr(devices, "available_devices", lambda: ["cpu"])
    with pytest.raises(ValueError, match="'cuda' is not available on this machine; available: \\['cpu'\\]"):
        devices.select_device("cuda")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        devices.select_device("gpu")


def test_cpu_context_is_inference_mode_without_autocast():
    with devices.inference_context("cpu"):
        assert torch.is_inference_mode_enabled()
        assert not torch.is_autocast_enabled("cpu")
        assert (torch.ones(2) * 3).dtype == torch.float32
    assert devices.autocast_dtype(torch.device("cpu")) is None


def test_cuda_autocast_type_is_bf16_when_supported(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert devices.autocast_dtype(torch.device("cuda")) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert devices.autocast_dtype(torch.device("cuda")) == torch.float16


def test_prepare_model_on_cpu_is_eval_and_contiguous():
    model = devices.prepare_model(torch.nn.Conv2d(3, 4, 3), "cpu")
    assert not model.training and model.weight.is_contiguous()
    batch = devices.prepare_batch(torch.zeros(1, 3, 8, 8), "cpu")
    assert batch.is_contiguous()
