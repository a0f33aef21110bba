"""The Trainer yields per-epoch stats, lowers the loss, keeps its schedule and resumes exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_histoseg.models.registry import create_model
from napari_histoseg.training.loop import TrainConfig, Trainer


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


def make_trainer(epochs: int = 4, learning_rate: float = 3e-3, **config) -> Trainer:
    torch.manual_seed(0)
    data = bright_is_tumour(8)
    return Trainer(create_model("hinet", size="tiny"), data, data[:4],
                   TrainConfig(epochs=epochs, batch_size=4, learning_rate=learning_rate, **config))


def test_loop_yields_epochs_lowers_the_loss_and_anneals():
    stats = list(make_trainer().epochs())
    assert [s.epoch for s in stats] == [1, 2, 3, 4]
    assert stats[-1].train_loss < stats[0].train_loss
    assert 0.0 <= stats[-1].val.miou <= 1.0 and stats[-1].val.acc > 0.5
    rates = [s.learning_rate for s in stats]
    assert rates[0] == pytest.approx(3e-3) and rates == sorted(rates, reverse=True)


def test_resumed_training_matches_an_uninterrupted_run():
    whole = make_trainer(epochs=3)
    expected = [s.train_loss for s in whole.epochs()]
    first = make_trainer(epochs=3)
    losses = [next(first.epochs()).train_loss]
    second = make_trainer(epochs=3)
    second.load_state(first.state_tensors(), first.state_meta())
    losses += [s.train_loss for s in second.epochs()]
    assert losses == pytest.approx(expected, rel=1e-4)


def test_early_stopping_stops_after_patience(monkeypatch):
    from napari_histoseg.training import loop

    flat = {"all": np.array([[5, 1], [1, 5]])}          # the same validation score every epoch
    monkeypatch.setattr(loop, "evaluate_by_source", lambda model, data, device: flat)
    stats = list(make_trainer(epochs=50, patience=2).epochs())
    assert [s.epoch for s in stats] == [1, 2, 3] and [s.improved for s in stats] == [True, False, False]


def test_config_is_validated():
    with pytest.raises(ValueError, match="epochs and batch_size"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="loss must be"):
        TrainConfig(loss="mse")


def test_every_shipped_config_parses():
    from pathlib import Path

    from napari_histoseg.training.run_config import read_run_config

    configs = sorted((Path(__file__).resolve().parents[1] / "training" / "configs").glob("*.yaml"))
    assert len(configs) >= 4
    for path in configs:
        config = read_run_config(path)
        assert config.name and config.train.epochs >= 1


def test_the_fusion_network_trains_with_its_combined_loss():
    torch.manual_seed(0)
    model = create_model("edge_fusion", size="tiny", num_classes=2)
    data = bright_is_tumour(4, size=64)
    trainer = Trainer(model, data, None, TrainConfig(epochs=1, batch_size=2, loss="fusion"))
    (stats,) = list(trainer.epochs())
    assert np.isfinite(stats.train_loss) and stats.val is None


def test_source_dice_selection_weighs_every_source_alike():
    from napari_histoseg.training.loop import selection_score

    big_good = np.array([[900, 0], [0, 900]])             # Dice 1.0 on many pixels
    small_bad = np.array([[10, 0], [10, 0]])              # Dice 0.0 on few pixels
    matrices = {"big": big_good, "small": small_bad}
    assert selection_score(matrices, "source_dice") == 0.5
    assert selection_score(matrices, "miou") > 0.9
