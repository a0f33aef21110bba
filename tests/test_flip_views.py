"""Probabilities averaged over flipped views: the maths, the predictor, the run and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_histoseg.inference.flip_views import (CARD_KEY, averaged_probabilities,
                                                  check_views, views_of)
from napari_histoseg.inference.predictor import ModelRunError, Predictor


def position_logits(x):
    """Two-class logits that depend on where a pixel is, so flips change the answer."""
    ramp = torch.linspace(-3, 3, x.shape[-1]).view(1, 1, 1, -1)
    tumour = x[:, :1] + ramp + 0.5 * torch.linspace(0, 1, x.shape[-2]).view(1, 1, -1, 1)
    return torch.cat([torch.zeros_like(tumour), tumour], dim=1)


def test_views_are_flipped_back_and_averaged():
    x = torch.rand(2, 3, 6, 8)
    softmax = lambda t: torch.softmax(position_logits(t), 1)  # noqa: E731
    expected = (softmax(x) + softmax(x.flip(-1)).flip(-1) + softmax(x.flip(-2)).flip(-2)
                + softmax(x.flip((-2, -1))).flip((-2, -1))) / 4
    torch.testing.assert_close(averaged_probabilities(position_logits, x, 4), expected)
    torch.testing.assert_close(averaged_probabilities(position_logits, x, 1), softmax(x))
    # a flip-equivariant model gains nothing: every view agrees
    pointwise = lambda t: torch.cat([t[:, :1], -t[:, :1]], 1)  # noqa: E731
    torch.testing.assert_close(averaged_probabilities(pointwise, x, 4),
                               torch.softmax(pointwise(x), 1))


def test_the_number_of_views_is_checked_and_read_from_the_card():
    assert views_of(None) == 1 and views_of({}) == 1 and views_of({CARD_KEY: 4}) == 4
    assert views_of({CARD_KEY: 4}, asked=1) == 1
    assert check_views(2) == 2
    with pytest.raises(ValueError, match=r"flip views must be one of \[1, 2, 4\], got 3"):
        check_views(3)
    with pytest.raises(ValueError, match="flip views"):
        views_of({CARD_KEY: 8})


class PositionModel(torch.nn.Module):
    def predict_logits(self, x):
        return position_logits(x)


def test_the_predictor_averages_its_views_and_still_rejects_nan():
    tiles = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    one, _ = Predictor(PositionModel(), "cpu", None, 16, 2).predict(tiles)
    four, _ = Predictor(PositionModel(), "cpu", None, 16, 2, flips=4).predict(tiles)
    x = torch.from_numpy(tiles).permute(0, 3, 1, 2).float() / 255
    expected = averaged_probabilities(position_logits, x, 4).mul(255).round().to(torch.uint8)
    np.testing.assert_array_equal(four, expected.numpy())
    assert not np.array_equal(one, four)

    class NaNModel(torch.nn.Module):
        def predict_logits(self, x):
            return torch.full((len(x), 2, *x.shape[-2:]), float("nan"))

    with pytest.raises(ModelRunError, match="NaN or infinite"):
        Predictor(NaNModel(), "cpu", None, 16, 2, flips=2).predict(tiles)


def test_a_run_takes_the_card_s_views_except_for_detail_crop_models():
    from types import SimpleNamespace

    from napari_histoseg.inference.session import run_flips

    model = SimpleNamespace(name="m", card={CARD_KEY: 2})
    said: list[str] = []
    assert run_flips(None, model, False, said.append) == 2 and "averaged over 2" in said[-1]
    assert run_flips(1, model, False, said.append) == 1
    assert run_flips(4, model, True, said.append) == 1 and "runs without flipped views" in said[-1]
    with pytest.raises(ValueError, match="flip views"):
        run_flips(3, model, False, said.append)
