"""Losses: cross-entropy, soft Dice, and the fusion paper's combined loss.

Fusion paper §III-D:
    L_seg  = (0.5 Dice_aim + 0.5 CE_aim) + 0.5 CE_high          (Eq. 7)
    L_edge = 0.5 CE_sem + 0.5 Dice_edge                          (Eq. 8)
    L      = L_seg + gamma L_edge, gamma = 0.5                   (Eq. 9, §IV-B)
HI-Net is trained with cross-entropy alone (HI-Net §4.1); ``ce_dice_loss`` is the fusion
paper's segmentation term (0.5 Dice + 0.5 CE) for any segmentation network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

DEFAULT_GAMMA = 0.5


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """Mean pixel cross-entropy: logits (B, K, H, W), target (B, H, W) class ids; ``ignore_index`` pixels skipped."""
    return F.cross_entropy(logits.float(), target.long(), ignore_index=ignore_index)


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0,
                   ignore_index: int = 255) -> torch.Tensor:
    """1 - mean soft Dice over classes.

    logits (B, K, H, W) with K >= 2 use softmax and ``target`` (B, H, W) class ids;
    K = 1 uses a sigmoid and a (B, H, W) or (B, 1, H, W) binary target (edge maps).
    Per class c: Dice_c = (2 sum p_c t_c + eps) / (sum p_c + sum t_c + eps), summed
    over the batch and pixels; ``ignore_index`` pixels count for nothing.
    """
    logits = logits.float()
    if logits.shape[1] == 1:
        target = target.reshape(logits.shape[0], *logits.shape[2:])
        valid = (target != ignore_index).unsqueeze(1)
        probs = torch.sigmoid(logits)
        onehot = (target == 1).unsqueeze(1).float()
    else:
        valid = (target != ignore_index).unsqueeze(1)
        probs = torch.softmax(logits, dim=1)
        onehot = F.one_hot(torch.where(valid[:, 0], target, 0).long(), logits.shape[1])
        onehot = onehot.permute(0, 3, 1, 2).float()
    probs, onehot = probs * valid, onehot * valid
    dims = (0, 2, 3)
    dice = (2 * (probs * onehot).sum(dims) + eps) / (probs.sum(dims) + onehot.sum(dims) + eps)
    return 1 - dice.mean()


def ce_dice_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """0.5 soft Dice + 0.5 cross-entropy (fusion paper Eq. 7, first term); shapes as ``cross_entropy``."""
    return (0.5 * soft_dice_loss(logits, target, ignore_index=ignore_index)
            + 0.5 * cross_entropy(logits, target, ignore_index=ignore_index))


@dataclass(frozen=True)
class FusionLoss:
    """The fusion paper's loss terms for one batch; ``total`` is what to backpropagate."""

    total: torch.Tensor
    seg: torch.Tensor
    edge: torch.Tensor


def fusion_loss(seg_logits: torch.Tensor, seg_target: torch.Tensor,
                high_logits: torch.Tensor | None = None, high_target: torch.Tensor | None = None,
                semantic_logits: torch.Tensor | None = None, semantic_target: torch.Tensor | None = None,
                edge_logits: torch.Tensor | None = None, edge_target: torch.Tensor | None = None,
                gamma: float = DEFAULT_GAMMA) -> FusionLoss:
    """L = (0.5 Dice_aim + 0.5 CE_aim) + 0.5 CE_high + gamma (0.5 CE_sem + 0.5 Dice_edge).

    seg_logits (B, K, H, W) are the final H&E logits and seg_target (B, H, W) their
    labels; high_* the detail branch on the 40x crop; semantic_* the CK5/6 semantic
    map (B, K, H, W) with (B, H, W) labels; edge_* the (B, 1, H, W) edge logits with
    a binary (B, H, W) edge map. A term whose logits are None (no 40x crop, no
    CK5/6 input) is left out; its target must then be None too.
    """
    seg = ce_dice_loss(seg_logits, seg_target)
    seg = seg + 0.5 * _optional(cross_entropy, high_logits, high_target, "high", seg)
    edge = (0.5 * _optional(cross_entropy, semantic_logits, semantic_target, "semantic", seg)
            + 0.5 * _optional(soft_dice_loss, edge_logits, edge_target, "edge", seg))
    return FusionLoss(total=seg + gamma * edge, seg=seg, edge=edge)


def _optional(loss, logits: torch.Tensor | None, target: torch.Tensor | None, name: str,
              like: torch.Tensor) -> torch.Tensor:
    if (logits is None) != (target is None):
        raise ValueError(f"fusion_loss: give both {name}_logits and {name}_target, or neither")
    return like.new_zeros(()) if logits is None else loss(logits, target)
