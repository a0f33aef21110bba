"""Losses on inputs whose values are known by hand."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from napari_histoseg.training.losses import (ce_dice_loss, cross_entropy, fusion_loss,  # noqa: E402
                                             soft_dice_loss)


def confident(target: torch.Tensor, classes: int, margin: float = 50.0) -> torch.Tensor:
    """(B, H, W) labels -> logits that put all probability on the right class."""
    return torch.nn.functional.one_hot(target, classes).permute(0, 3, 1, 2).float() * margin


def test_cross_entropy_of_uniform_logits_is_log_k_and_ignores_255():
    target = torch.tensor([[[0, 1], [2, 255]]])
    assert cross_entropy(torch.zeros(1, 3, 2, 2), target).item() == pytest.approx(math.log(3))


def test_soft_dice_is_zero_when_perfect_and_known_when_half_right():
    target = torch.tensor([[[0, 1], [1, 0]]])
    assert soft_dice_loss(confident(target, 2), target, eps=0).item() == pytest.approx(0, abs=1e-6)
    # uniform 0.5/0.5 probabilities: per class 2 * 1 / (2 + 2) = 0.5
    assert soft_dice_loss(torch.zeros(1, 2, 2, 2), target, eps=0).item() == pytest.approx(0.5)
    # one-channel edge logits: p = 0.5 everywhere, one edge pixel of four: 2 * 0.5 / (2 + 1)
    edge = torch.tensor([[[1, 0], [0, 0]]])
    assert soft_dice_loss(torch.zeros(1, 1, 2, 2), edge, eps=0).item() == pytest.approx(1 - 1 / 3)


def test_ce_dice_is_the_mean_of_its_halves_and_ignores_255():
    target = torch.tensor([[[0, 1], [1, 255]]])
    uniform = torch.zeros(1, 2, 2, 2)
    expected = 0.5 * soft_dice_loss(uniform, target).item() + 0.5 * math.log(2)
    assert ce_dice_loss(uniform, target).item() == pytest.approx(expected, rel=1e-6)
    assert ce_dice_loss(confident(target.clamp(max=1), 2), target).item() == pytest.approx(0, abs=1e-4)


def test_fusion_loss_weights_follow_the_paper():
    target = torch.tensor([[[0, 1], [2, 0]]])
    uniform, edge = torch.zeros(1, 3, 2, 2), torch.tensor([[[1, 0], [0, 0]]])
    ce, dice = math.log(3), soft_dice_loss(uniform, target).item()
    loss = fusion_loss(uniform, target, uniform, target, uniform, target, torch.zeros(1, 1, 2, 2), edge)
    edge_dice = soft_dice_loss(torch.zeros(1, 1, 2, 2), edge).item()
    assert loss.seg.item() == pytest.approx(0.5 * dice + 0.5 * ce + 0.5 * ce, rel=1e-5)
    assert loss.edge.item() == pytest.approx(0.5 * ce + 0.5 * edge_dice, rel=1e-5)
    assert loss.total.item() == pytest.approx(loss.seg.item() + 0.5 * loss.edge.item(), rel=1e-5)
    he_only = fusion_loss(confident(target, 3), target, gamma=0.25)
    assert he_only.total.item() == pytest.approx(0, abs=1e-4) and he_only.edge.item() == 0
    with pytest.raises(ValueError, match="both edge_logits and edge_target"):
        fusion_loss(uniform, target, edge_logits=torch.zeros(1, 1, 2, 2))
