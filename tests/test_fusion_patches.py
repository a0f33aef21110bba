"""Fusion training items carry a detail crop read at the finer level on the tumour, and the basal-ring target."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.training.fusion_patches import FusionPatches, ring_target

NORMALISATION = {"mean": [0.5] * 3, "std": [0.5] * 3}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    pair = generate_pair(tmp_path_factory.mktemp("pair"), SynthConfig(size=(2048, 2048), seed=3))
    return [(open_slide(pair.he_path), open_slide(pair.ck56_path), pair.affine, pair.labels_path)]


def test_ring_target_is_the_in_situ_boundary_only():
    labels = np.zeros((40, 40), np.uint8)
    labels[10:30, 10:30] = 1
    labels[0:6, 32:40] = 2                                        # invasive: no ring
    ring = ring_target(labels, half_width=2)
    assert ring[20, 8:12].all() and ring[20, 28:32].all()         # 2 px outside and inside
    assert not ring[20, 13:27].any() and not ring[:8, 32:].any()


def test_items_hold_a_finer_detail_crop_on_the_tumour(pairs):
    data = FusionPatches(pairs, NORMALISATION, mpp=2.0, patch=128)
    tumour_items = [i for i, w in enumerate(data.weights()) if w > 1]
    assert tumour_items
    inputs, targets = data[tumour_items[0]]
    assert inputs["image"].shape == (6, 128, 128) and inputs["detail"].shape == (3, 128, 128)
    y0, x0, y1, x1 = inputs["box"].tolist()
    assert (y1 - y0, x1 - x0) == (32, 32)
    seg = targets["seg"].numpy()
    tumour = (seg == 1) | (seg == 2)
    best = max(tumour[y:y + 32, x:x + 32].mean() for y in range(0, 97, 8) for x in range(0, 97, 8))
    assert tumour[y0:y1, x0:x1].mean() == best > 0                # the window with most tumour
    detail = inputs["detail"].numpy()
    coarse = inputs["image"][:3, y0:y1, x0:x1].numpy()
    pooled = detail.reshape(3, 32, 4, 32, 4).mean((2, 4))         # the crop, 4x coarser
    assert np.corrcoef(pooled.ravel(), coarse.ravel())[0, 1] > 0.9
    fine_detail = np.abs(detail - np.repeat(np.repeat(pooled, 4, 1), 4, 2)).mean()
    assert fine_detail > 0.02                                      # read at 0.5 µm/px, not upsampled
    high = targets["high"].numpy()
    assert high.shape == (128, 128) and (high[::4, ::4] == seg[y0:y1, x0:x1]).mean() > 0.9
    assert set(np.unique(targets["edge"].numpy())) <= {0, 1}


def test_trainer_trains_detail_and_edge_branches(pairs):
    import torch

    from napari_histoseg.models.registry import create_model
    from napari_histoseg.training.loop import Trainer, TrainConfig

    torch.manual_seed(0)
    train = FusionPatches(pairs, NORMALISATION, mpp=2.0, patch=128, crop=64)
    val = FusionPatches(pairs, NORMALISATION, mpp=2.0, patch=128)
    model = create_model("edge_fusion", size="tiny")
    before = {name: p.detach().clone() for name, p in model.named_parameters()
              if name.startswith(("detail.", "ck56.edge_head"))}
    config = TrainConfig(epochs=1, batch_size=2, learning_rate=1e-3, loss="fusion", device="cpu",
                         steps_per_epoch=2)
    [stats] = list(Trainer(model, train, val, config).epochs())
    assert np.isfinite(stats.train_loss) and len(stats.val.dice) == 3
    changed = [name for name, p in model.named_parameters() if name in before
               and not torch.equal(p.detach(), before[name])]
    assert any(n.startswith("detail.") for n in changed) and any("edge_head" in n for n in changed)
