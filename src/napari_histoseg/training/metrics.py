"""Segmentation metrics, all from one confusion matrix.

The papers report pixel accuracy (Acc), mean pixel accuracy (MPA), mean IoU
(MIoU), frequency-weighted IoU (FWIoU) and Dice (HI-Net §4.3; edge-guided
fusion §IV). Here FWIoU is the standard definition: the IoU of each class
weighted by that class's share of the ground-truth pixels.

>>> import numpy as np
>>> cm = confusion_matrix(np.array([0, 1, 1, 1]), np.array([0, 1, 1, 0]), n_classes=2)
>>> cm.tolist()
[[1, 0], [1, 2]]
>>> round(scores(cm).miou, 3)
0.583
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Scores:
    """Metrics in [0, 1]; ``dice`` and ``iou`` are per class."""

    acc: float
    mpa: float
    miou: float
    fwiou: float
    mean_dice: float
    iou: tuple[float, ...]
    dice: tuple[float, ...]

    def as_dict(self) -> dict:
        return asdict(self)


def confusion_matrix(truth: np.ndarray, prediction: np.ndarray, n_classes: int,
                     ignore_index: int | None = None) -> np.ndarray:
    """``(n_classes, n_classes)`` counts: rows are the truth, columns the prediction.

    ``truth`` and ``prediction`` are integer label arrays of the same shape.
    """
    if truth.shape != prediction.shape:
        raise ValueError(f"truth {truth.shape} and prediction {prediction.shape} differ in shape")
    truth, prediction = truth.ravel().astype(np.int64), prediction.ravel().astype(np.int64)
    keep = (truth >= 0) & (truth < n_classes)
    if ignore_index is not None:
        keep &= truth != ignore_index
    flat = truth[keep] * n_classes + prediction[keep]
    return np.bincount(flat, minlength=n_classes**2).reshape(n_classes, n_classes)


def scores(matrix: np.ndarray) -> Scores:
    """All metrics from a confusion matrix.

    Classes absent from both truth and prediction are left out of the means, so
    a patch without tumour does not count as a perfect or a failed tumour score.
    """
    matrix = matrix.astype(np.float64)
    true_positive = np.diag(matrix)
    truth_total = matrix.sum(axis=1)
    predicted_total = matrix.sum(axis=0)
    union = truth_total + predicted_total - true_positive
    present = union > 0
    iou = np.divide(true_positive, union, out=np.zeros_like(union), where=present)
    dice = np.divide(2 * true_positive, truth_total + predicted_total,
                     out=np.zeros_like(union), where=present)
    in_truth = truth_total > 0
    class_acc = np.divide(true_positive, truth_total, out=np.zeros_like(union), where=in_truth)
    total = matrix.sum()
    return Scores(
        acc=float(true_positive.sum() / total) if total else 0.0,
        mpa=float(class_acc[in_truth].mean()) if in_truth.any() else 0.0,
        miou=float(iou[present].mean()) if present.any() else 0.0,
        fwiou=float((truth_total / total * iou).sum()) if total else 0.0,
        mean_dice=float(dice[present].mean()) if present.any() else 0.0,
        iou=tuple(float(v) for v in iou),
        dice=tuple(float(v) for v in dice),
    )
