"""The training loop yields per-epoch stats and really lowers the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_histoseg.models.registry import create_model
from napari_histoseg.training.datasets import SlidePatchDataset, plan_patches
from napari_histoseg.training.loop import TrainConfig, train
from tests.conftest import tissue_like_rgb, write_pyramid_tiff


def bright_is_tumour(count: int, size: int = 32):
    """Images whose bright half is labelled 1: learnable in a few steps."""
    generator = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(count):
        image = torch.randn(3, size, size, generator=generator) * 0.1
        column = int(torch.randint(4, size - 4, (1,), generator=generator))
        image[:, :, column:] += 1.0
        target = torch.zeros(size, size, dtype=torch.int64)
        target[:, column:] = 1
        samples.append((image, target))
    return samples


def test_loop_yields_epochs_and_lowers_the_loss():
    torch.manual_seed(0)
    model = create_model("hinet", size="tiny")
    data = bright_is_tumour(8)
    stats = list(train(model, data, data[:4], TrainConfig(epochs=4, batch_size=4,
                                                          learning_rate=3e-3)))
    assert [s.epoch for s in stats] == [1, 2, 3, 4]
    assert stats[-1].train_loss < stats[0].train_loss
    assert 0.0 <= stats[-1].val.miou <= 1.0 and stats[-1].val.acc > 0.5


def test_config_is_validated():
    with pytest.raises(ValueError, match="epochs and batch_size"):
        TrainConfig(epochs=0)


def test_patches_follow_the_tumour_fraction_rule():
    labels = np.zeros((64, 64), np.uint8)
    labels[:, :40] = 1  # left patches all tumour, right ones half
    patches = plan_patches(labels, level=0, size=32)
    fractions = sorted(p.tumour_fraction for p in patches)
    assert fractions == [0.25, 0.25]  # 100% tumour patches (> 99.5%) are dropped


def test_slide_patch_dataset_reads_normalised_image_and_labels(tmp_path):
    image = tissue_like_rgb((128, 128))
    slide_path = write_pyramid_tiff(tmp_path / "s.tif", image, levels=1, tile=64,
                                    compression="zlib")
    labels = np.zeros((128, 128), np.uint8)
    labels[:, 64:] = 2
    dataset = SlidePatchDataset(slide_path, [labels], plan_patches(labels, 0, 64, 32),
                                mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    x, y = dataset[0]
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    assert set(torch.unique(y).tolist()) <= {0, 1}
    expected = (image[0:64, 32:96].transpose(2, 0, 1) / 255.0 - 0.5) / 0.25
    np.testing.assert_allclose(x.numpy(), expected, atol=1e-5)
