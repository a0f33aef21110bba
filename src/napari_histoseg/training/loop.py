"""The training loop: a :class:`Trainer` whose ``epochs()`` generator yields per-epoch statistics.

The GUI and the CLI both iterate it; stopping the iteration stops training. It
never touches Qt. Defaults follow the papers: Adam, lr 1e-4, cosine annealing
(fusion paper §IV-B), cross-entropy for HI-Net (§4.1) and the fusion paper's
combined loss for the fusion network (Eq. 7-9). Mixed precision (bfloat16
autocast) is used on CUDA. Each epoch's data order and augmentation are drawn
from (seed, epoch), so a run resumed from its state (``state_tensors`` and
``state_meta``) sees the same data as an uninterrupted one.

>>> trainer = Trainer(model, train_set, val_set, TrainConfig(epochs=2))   # doctest: +SKIP
>>> for stats in trainer.epochs():
...     print(stats.epoch, stats.train_loss, stats.val.miou)
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import asdict, dataclass

import numpy as np

from napari_histoseg.training.metrics import Scores, confusion_matrix, scores
from napari_histoseg.training.sources import IGNORE_LABEL

LOSSES = ("ce", "ce_dice", "fusion")
SCHEDULES = ("cosine", "constant")
#: How the best epoch is chosen: pooled validation MIoU, or the mean over validation sources
#: of their Dice on the non-background classes (each source counts alike, however large).
SELECTIONS = ("miou", "source_dice")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. ``steps_per_epoch`` draws that many batches (weighted, with
    replacement) instead of one pass; ``patience`` stops after that many epochs without a
    better validation score (``selection``)."""

    epochs: int = 70
    batch_size: int = 6
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    schedule: str = "cosine"
    loss: str = "ce"
    seed: int = 0
    device: str | None = None
    steps_per_epoch: int | None = None
    patience: int | None = None
    selection: str = "miou"

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError(f"epochs and batch_size must be >= 1 and learning_rate > 0, got "
                             f"{self.epochs}, {self.batch_size}, {self.learning_rate}")
        if self.loss not in LOSSES or self.schedule not in SCHEDULES or self.selection not in SELECTIONS:
            raise ValueError(f"loss must be one of {LOSSES}, schedule one of {SCHEDULES} and "
                             f"selection one of {SELECTIONS}; got {self.loss!r}, {self.schedule!r}, "
                             f"{self.selection!r}")


@dataclass(frozen=True)
class EpochStats:
    """What one epoch did: mean training loss, held-out scores and the selection score on them,
    learning rate, wall time (s)."""

    epoch: int
    train_loss: float
    val: Scores | None
    learning_rate: float
    seconds: float
    improved: bool = False
    score: float | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        data["val"] = self.val.as_dict() if self.val else None
        return data


class Trainer:
    """Trains ``model`` in place; ``model.predict_logits(x)`` gives (B, C, H, W) logits."""

    def __init__(self, model, train_set, val_set, config: TrainConfig):
        import torch

        from napari_histoseg.models.device import select_device

        self.config = config
        self.device = select_device(config.device)
        self.model = model.to(self.device)
        self.train_set, self.val_set = train_set, val_set
        self.optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate,
                                          weight_decay=config.weight_decay)
        self.scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(self.optimiser, config.epochs)
                          if config.schedule == "cosine" else None)
        self.epoch = 0
        self.best_score = -1.0
        self.best_epoch = 0

    def epochs(self) -> Generator[EpochStats, None, None]:
        """Train from the epoch after ``self.epoch`` to ``config.epochs``, or until patience runs out."""
        while self.epoch < self.config.epochs and not self.out_of_patience():
            start = time.perf_counter()
            self.epoch += 1
            learning_rate = self.optimiser.param_groups[0]["lr"]
            loss = self._train_epoch()
            matrices = evaluate_by_source(self.model, self.val_set, self.device) if self.val_set else {}
            val = scores(sum(matrices.values())) if matrices else None
            score = selection_score(matrices, self.config.selection) if matrices else None
            if self.scheduler is not None:
                self.scheduler.step()
            improved = score is not None and score > self.best_score
            if improved:
                self.best_score, self.best_epoch = score, self.epoch
            yield EpochStats(self.epoch, loss, val, learning_rate, time.perf_counter() - start,
                             improved, score)

    def out_of_patience(self) -> bool:
        patience = self.config.patience
        return patience is not None and self.best_epoch and self.epoch - self.best_epoch >= patience

    def _train_epoch(self) -> float:
        import torch

        self.model.train()
        if hasattr(self.train_set, "set_epoch"):
            self.train_set.set_epoch(self.epoch)
        losses = []
        for images, targets in self._loader():
            self.optimiser.zero_grad(set_to_none=True)
            if isinstance(images, dict):     # fusion patches: detail crop, box and edge target too
                from napari_histoseg.training.fusion_step import fusion_batch_loss

                loss = fusion_batch_loss(self.model, images, targets, self.device)
            else:
                with torch.autocast(self.device.type, dtype=torch.bfloat16,
                                    enabled=self.device.type == "cuda"):
                    logits = self.model.predict_logits(images.to(self.device, non_blocking=True))
                loss = self._loss(logits.float(), targets.to(self.device, non_blocking=True))
            loss.backward()
            self.optimiser.step()
            losses.append(loss.detach())
        return float(torch.stack(losses).mean()) if losses else float("nan")

    def _loader(self):
        import torch
        from torch.utils.data import DataLoader, RandomSampler, WeightedRandomSampler

        generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.epoch)
        weights = getattr(self.train_set, "weights", lambda: np.ones(len(self.train_set)))()
        if self.config.steps_per_epoch or np.ptp(weights) > 0:
            count = (self.config.steps_per_epoch or -(-len(self.train_set) // self.config.batch_size))
            sampler = WeightedRandomSampler(torch.as_tensor(weights, dtype=torch.double),
                                            count * self.config.batch_size, generator=generator)
        else:
            sampler = RandomSampler(self.train_set, generator=generator)
        return DataLoader(self.train_set, batch_size=self.config.batch_size, sampler=sampler,
                          drop_last=len(self.train_set) > self.config.batch_size,
                          pin_memory=self.device.type == "cuda")

    def _loss(self, logits, targets):
        from napari_histoseg.training.losses import ce_dice_loss, cross_entropy, fusion_loss

        if self.config.loss == "fusion":
            return fusion_loss(logits, targets).total
        if self.config.loss == "ce_dice":
            return ce_dice_loss(logits, targets, ignore_index=IGNORE_LABEL)
        return cross_entropy(logits, targets, ignore_index=IGNORE_LABEL)

    def state_tensors(self) -> dict:
        """Model weights and optimiser tensors, flat, for a safetensors file."""
        tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        for index, state in self.optimiser.state_dict()["state"].items():
            for name, value in state.items():
                tensors[f"optimiser.{index}.{name}"] = value.detach().cpu().contiguous().reshape(value.shape)
        return tensors

    def state_meta(self) -> dict:
        """Everything else needed to resume, as plain JSON-able values."""
        return {"epoch": self.epoch, "best_score": self.best_score, "best_epoch": self.best_epoch,
                "param_groups": self.optimiser.state_dict()["param_groups"],
                "scheduler": self.scheduler.state_dict() if self.scheduler else None}

    def load_state(self, tensors: dict, meta: dict) -> None:
        """Resume from ``state_tensors()`` and ``state_meta()`` of an earlier run."""
        model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
        self.model.load_state_dict(model_state, strict=True)
        optimiser_state: dict = {}
        for key, value in tensors.items():
            if key.startswith("optimiser."):
                _, index, name = key.split(".", 2)
                optimiser_state.setdefault(int(index), {})[name] = value
        self.optimiser.load_state_dict({"state": optimiser_state, "param_groups": meta["param_groups"]})
        if self.scheduler is not None and meta.get("scheduler"):
            self.scheduler.load_state_dict(meta["scheduler"])
        self.epoch, self.best_score, self.best_epoch = meta["epoch"], meta["best_score"], meta["best_epoch"]


def evaluate(model, dataset, device) -> Scores:
    """Scores of ``model`` on ``dataset`` (one item at a time) from one confusion matrix."""
    matrices = evaluate_by_source(model, dataset, device)
    return scores(sum(matrices.values()) if matrices else np.zeros((2, 2), np.int64))


def evaluate_by_source(model, dataset, device) -> dict[str, np.ndarray]:
    """One confusion matrix per source of ``dataset`` (its ``entries[i].source``, else "all")."""
    import torch

    from napari_histoseg.training.fusion_step import item_logits

    model.eval()
    matrices: dict[str, np.ndarray] = {}
    entries = getattr(dataset, "entries", None)
    with torch.inference_mode():
        for index in range(len(dataset)):
            image, target = dataset[index]
            logits = item_logits(model, image, device)
            target = target["seg"] if isinstance(target, dict) else target
            prediction = logits.argmax(1)[0].cpu().numpy()
            matrix = confusion_matrix(target.numpy(), prediction, logits.shape[1], IGNORE_LABEL)
            source = entries[index].source if entries is not None else "all"
            matrices[source] = matrices.get(source, 0) + matrix
    return matrices


def selection_score(matrices: dict[str, np.ndarray], selection: str) -> float:
    """The number the best epoch maximises (see ``SELECTIONS``)."""
    if selection == "miou":
        return scores(sum(matrices.values())).miou
    return float(np.mean([np.mean(scores(m).dice[1:]) for m in matrices.values()]))
