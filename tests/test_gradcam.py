"""Grad-CAM: a known answer, the default layers, and hooks that never outlive a call."""

from __future__ import annotations

import gc
import warnings

import pytest
import torch

from napari_histoseg.explain.gradcam import GradCam, default_layer
from napari_histoseg.explain.key_regions import find_key_regions
from napari_histoseg.models.registry import create_model
from tests.explain_models import QuadrantModel


def purple_everywhere(size=64):
    x = torch.zeros(1, 3, size, size)
    x[:, 2] = 0.8  # blue over green: every pixel looks like tumour to the features
    return x


@pytest.mark.parametrize("quadrant", [1, 2])
@pytest.mark.parametrize("region", ["tile", "predicted"])
def test_heatmap_peaks_in_the_one_quadrant_that_drives_the_logit(quadrant, region):
    model = QuadrantModel(quadrant).eval()
    top, left = divmod(quadrant, 2)
    inside = torch.zeros(128, 128, dtype=torch.bool)
    inside[top * 64:(top + 1) * 64, left * 64:(left + 1) * 64] = True
    x = purple_everywhere(128)
    x[:, 2] += 0.1 * torch.rand(128, 128)  # texture, so the map is not flat
    x[:, 2][:, ~inside] = 0.05  # only the driving quadrant is purple
    heat, logits = GradCam(model, layer="features", region=region)(x)
    assert heat.shape == (1, 128, 128) and float(heat.max()) == pytest.approx(1.0)
    assert heat[0][inside].mean() > 10 * heat[0][~inside].mean()
    best = find_key_regions(heat[0].numpy(), window=32, max_regions=1)[0]
    y0, x0, y1, x1 = best.box
    assert top * 64 <= y0 and y1 <= (top + 1) * 64 and left * 64 <= x0 and x1 <= (left + 1) * 64


def test_gradient_selects_the_quadrant_even_when_all_pixels_activate():
    """Two feature channels, one per half of the image; only the one feeding the
    driven quadrant's logit gets weight, so the heat lies in that half."""
    model = QuadrantModel(quadrant=0).eval()
    with torch.no_grad():
        model.features[0].weight.zero_()
        model.features[0].bias.zero_()
        model.features[0].weight[0, 0] = 1.0  # channel 0 sees red
        model.features[0].weight[1, 1] = 1.0  # channel 1 sees green
        model.head.weight.zero_()
        model.head.weight[0, 0] = 1.0  # the logit reads channel 0 only
    x = torch.zeros(1, 3, 64, 64)
    x[:, 0, :32] = 1.0  # red in the top half
    x[:, 1, 32:] = 1.0  # green in the bottom half
    heat, _ = GradCam(model, layer="features", region="tile")(x)
    assert heat[0, :32].min() > 0.9 and heat[0, 32:].max() == 0.0


def test_no_region_of_interest_gives_zeros():
    model = QuadrantModel(1).eval()
    heat, _ = GradCam(model, layer="features")(torch.zeros(2, 3, 32, 32))  # no tumour pixel
    assert torch.count_nonzero(heat) == 0


@pytest.mark.parametrize("name, layer", [("hinet", "p2"), ("edge_fusion", "target.encoder.stages.4")])
def test_default_layers_of_the_shipped_architectures(name, layer):
    torch.manual_seed(0)
    model = create_model(name, size="tiny").eval()
    assert default_layer(model) == layer
    heat, logits = GradCam(model, target_class=1, region="tile")(torch.rand(2, 3, 64, 64))
    assert heat.shape == (2, 64, 64) and 0.0 <= float(heat.min()) and float(heat.max()) <= 1.0
    assert float(heat.max()) > 0
    assert all(p.grad is None for p in model.parameters()), "no parameter gradients are kept"


def test_unknown_layer_and_architecture_are_named():
    with pytest.raises(ValueError, match="no layer 'nope'"):
        GradCam(QuadrantModel(), layer="nope")
    with pytest.raises(ValueError, match="no default Grad-CAM layer for a QuadrantModel"):
        GradCam(QuadrantModel())


def live_tensors() -> int:
    gc.collect()
    with warnings.catch_warnings():  # isinstance on every object touches deprecated aliases
        warnings.simplefilter("ignore", FutureWarning)
        return sum(1 for obj in gc.get_objects() if isinstance(obj, torch.Tensor))


def test_200_calls_leave_no_hooks_and_keep_nothing_alive():
    model = QuadrantModel().eval()  # cheap, so 200 calls take a second
    cam = GradCam(model, layer="features", region="tile")
    x = purple_everywhere(32)
    for _ in range(5):  # warm up caches (autograd, interpolation)
        cam(x)
    tensors = live_tensors()  # the first scan itself imports modules: count after it
    objects = len(gc.get_objects())
    for _ in range(200):
        heat, logits = cam(x)
    del heat, logits
    assert all(not m._forward_hooks for m in model.modules())
    assert live_tensors() <= tensors
    gc.collect()
    assert len(gc.get_objects()) - objects < 50
    assert torch.is_grad_enabled()


def test_hooks_are_removed_when_the_model_raises():
    model = QuadrantModel().eval()

    def broken(he):
        model.features(he)
        raise RuntimeError("boom")

    model.predict_logits = broken
    cam = GradCam(model, layer="features")
    for _ in range(3):
        with pytest.raises(RuntimeError, match="boom"):
            cam(torch.zeros(1, 3, 16, 16))
    assert not model.features._forward_hooks and torch.is_grad_enabled()
