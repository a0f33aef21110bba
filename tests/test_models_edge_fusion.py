"""The edge-guided fusion network: all inputs, the H&E-only fallback, and key-region fusion."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")

from napari_histoseg.models.registry import create_model  # noqa: E402


def run_all_inputs(model, size: int):
    box = torch.tensor([[size // 4, size // 4, size // 2, size // 2]])
    he = torch.randn(1, 3, size, size, requires_grad=True)
    out = model(he, detail=torch.randn(1, 3, size, size), box=box, ck56=torch.randn(1, 3, size, size))
    (out.seg.logsumexp(1).mean() + out.high.mean() + out.semantic.mean() + out.edge.mean()).backward()
    assert torch.isfinite(he.grad).all()
    return out


def test_tiny_fusion_outputs_have_documented_shapes():
    out = run_all_inputs(create_model("edge_fusion", size="tiny"), 64)
    assert out.ck56_used
    assert out.seg.shape == out.aim.shape == out.semantic.shape == (1, 3, 64, 64)
    assert out.high.shape == (1, 3, 64, 64) and out.edge.shape == (1, 1, 64, 64)
    assert not torch.equal(out.seg, out.aim)  # CK5/6 guidance changes the result


def test_without_ck56_falls_back_to_he_branch_and_warns_once():
    model = create_model("edge_fusion", size="tiny").eval()
    he = torch.randn(1, 3, 64, 64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = model(he)
        logits = model.predict_logits(he)
    assert [str(w.message).startswith("No CK5/6 input") for w in caught] == [True]
    assert not out.ck56_used and out.semantic is None and out.edge is None and out.high is None
    assert torch.equal(out.seg, out.aim) and torch.allclose(logits, out.seg)


def test_detail_changes_target_features_only_inside_the_box():
    model = create_model("edge_fusion", size="tiny").eval()
    target = torch.randn(1, 8, 64, 64)
    fused = model.detail_fusion(target, torch.randn(1, 16, 16, 16), torch.tensor([[8, 16, 24, 48]]))
    changed = (fused != target).any(dim=1)[0]
    assert changed[8:24, 16:48].float().mean() > 0.9 and not changed[:8].any() and not changed[:, 48:].any()
    with pytest.raises(ValueError, match="outside"):
        model.detail_fusion(target, torch.randn(1, 16, 16, 16), torch.tensor([[8, 16, 80, 48]]))


@pytest.mark.slow
def test_paper_fusion_forward_backward_at_512():
    out = run_all_inputs(create_model("edge_fusion", size="paper"), 512)
    assert out.seg.shape == (1, 3, 512, 512) and out.edge.shape == (1, 1, 512, 512)
