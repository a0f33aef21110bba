"""HI-Net: forward and backward at the documented shapes, and the ablation switches."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from napari_histoseg.models.hinet import HINet, TopDownAttention  # noqa: E402
from napari_histoseg.models.registry import create_model  # noqa: E402


def forward_backward(model, size: int) -> torch.Tensor:
    he = torch.randn(1, 3, size, size, requires_grad=True)
    logits = model.predict_logits(he)
    logits.logsumexp(dim=1).mean().backward()
    assert he.grad is not None and torch.isfinite(he.grad).all()
    return logits


@pytest.mark.parametrize("tda", [True, False])
@pytest.mark.parametrize("shortcut", [True, False])
def test_tiny_hinet_gives_two_class_logits_at_input_size(tda, shortcut):
    model = create_model("hinet", size="tiny", tda=tda, shortcut=shortcut)
    assert isinstance(model, HINet)
    assert 100_000 < sum(p.numel() for p in model.parameters()) < 1_000_000
    assert forward_backward(model, 64).shape == (1, 2, 64, 64)
    has_tda = any(isinstance(m, TopDownAttention) for m in model.modules())
    assert has_tda == tda


def test_shortcut_uses_fewer_semantic_convs_than_progressive_stages():
    convs = {sc: sum(isinstance(m, torch.nn.Conv2d) for m in create_model(
        "hinet", size="tiny", shortcut=sc).semantic.modules()) for sc in (True, False)}
    assert convs == {True: 4, False: 7}


@pytest.mark.slow
def test_paper_hinet_forward_backward_at_512():
    model = create_model("hinet", size="paper")
    assert len(model.backbone.stages[2]) == 23  # ResNet-101: 3, 4, 23, 3 blocks
    assert forward_backward(model, 512).shape == (1, 2, 512, 512)
