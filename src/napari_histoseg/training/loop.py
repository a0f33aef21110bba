"""The training loop: a generator of per-epoch statistics.

The GUI and the CLI both iterate it; stopping the iteration stops training.
It never touches Qt.

>>> for stats in train(model, train_set, val_set, TrainConfig(epochs=2)):   # doctest: +SKIP
...     print(stats.epoch, stats.train_loss, stats.val.miou)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np

from napari_histoseg.training.metrics import Scores, confusion_matrix, scores


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. Defaults follow HI-Net §4.2: Adam, lr 1e-4, batch 6."""

    epochs: int = 70
    batch_size: int = 6
    learning_rate: float = 1e-4
    seed: int = 0
    device: str | None = None
    max_steps_per_epoch: int | None = None

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError(f"epochs and batch_size must be >= 1 and learning_rate > 0, got "
                             f"{self.epochs}, {self.batch_size}, {self.learning_rate}")


@dataclass(frozen=True)
class EpochStats:
    """What one epoch did: mean training loss, held-out scores, wall time (s)."""

    epoch: int
    train_loss: float
    val: Scores | None
    seconds: float


def train(model, train_set, val_set, config: TrainConfig,
          loss_fn: Callable | None = None) -> Generator[EpochStats, None, object]:
    """Train ``model`` in place on ``train_set``; yield stats per epoch; return the model.

    ``model.predict_logits(x)`` gives ``(B, C, H, W)`` logits; ``loss_fn(logits,
    target)`` defaults to cross-entropy. Datasets yield ``(image, target)``.
    """
    import torch
    from torch.utils.data import DataLoader

    from napari_histoseg.models.device import select_device

    torch.manual_seed(config.seed)
    device = select_device(config.device)
    model.to(device)
    loss_fn = loss_fn or torch.nn.functional.cross_entropy
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(config.seed))
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        loss = _train_epoch(model, loader, optimiser, loss_fn, device, config.max_steps_per_epoch)
        val = evaluate(model, val_set, config.batch_size, device) if val_set else None
        yield EpochStats(epoch, loss, val, time.perf_counter() - start)
    return model


def _train_epoch(model, loader, optimiser, loss_fn, device, max_steps: int | None) -> float:
    model.train()
    losses = []
    for step, (images, targets) in enumerate(loader):
        if max_steps is not None and step >= max_steps:
            break
        optimiser.zero_grad(set_to_none=True)
        loss = loss_fn(model.predict_logits(images.to(device)), targets.to(device))
        loss.backward()
        optimiser.step()
        losses.append(loss.detach())
    return float(sum(losses) / len(losses)) if losses else float("nan")


def evaluate(model, dataset, batch_size: int, device) -> Scores:
    """Scores of ``model`` on ``dataset`` from one confusion matrix over all pixels."""
    import torch
    from torch.utils.data import DataLoader

    model.eval()
    matrix = None
    with torch.inference_mode():
        for images, targets in DataLoader(dataset, batch_size=batch_size):
            logits = model.predict_logits(images.to(device))
            prediction = logits.argmax(1).cpu().numpy()
            batch = confusion_matrix(targets.numpy(), prediction, logits.shape[1])
            matrix = batch if matrix is None else matrix + batch
    return scores(matrix if matrix is not None else np.zeros((2, 2), np.int64))
