"""Metrics from one confusion matrix, checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg.training.metrics import confusion_matrix, scores


def test_confusion_matrix_rows_are_truth():
    truth = np.array([[0, 0], [1, 2]])
    prediction = np.array([[0, 1], [1, 1]])
    assert confusion_matrix(truth, prediction, 3).tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]


def test_perfect_prediction_scores_one():
    labels = np.array([0, 1, 2, 2, 1])
    result = scores(confusion_matrix(labels, labels, 3))
    assert result.acc == result.mpa == result.miou == result.fwiou == result.mean_dice == 1.0


def test_known_values():
    # truth: 6 background, 2 tumour; prediction gets 5 bg right, 1 bg as tumour, 1 tumour right
    matrix = np.array([[5, 1], [1, 1]])
    result = scores(matrix)
    assert result.acc == pytest.approx(6 / 8)
    assert result.mpa == pytest.approx((5 / 6 + 1 / 2) / 2)
    assert result.iou == pytest.approx((5 / 7, 1 / 3))
    assert result.miou == pytest.approx((5 / 7 + 1 / 3) / 2)
    assert result.fwiou == pytest.approx(6 / 8 * 5 / 7 + 2 / 8 * 1 / 3)
    assert result.dice == pytest.approx((10 / 12, 2 / 4))


def test_absent_class_is_left_out_of_the_means():
    truth = prediction = np.zeros(10, int)
    result = scores(confusion_matrix(truth, prediction, 2))
    assert result.miou == 1.0 and result.mean_dice == 1.0


def test_ignore_index_and_shape_check():
    truth = np.array([0, 255, 1])
    prediction = np.array([0, 1, 1])
    assert confusion_matrix(truth, prediction, 2, ignore_index=255).sum() == 2
    with pytest.raises(ValueError, match="differ in shape"):
        confusion_matrix(truth, prediction[:2], 2)
