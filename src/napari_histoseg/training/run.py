"""One training run from a :class:`RunConfig`: a generator of epoch statistics, then the result.

Builds the dataset if the config says how and it is missing, creates the model
(or loads the base checkpoint to fine-tune), resumes from the run folder's
newest state, trains, keeps the best checkpoint by validation MIoU, and at the
end evaluates that checkpoint on the test split and records the figures and the
model card in its JSON config. The CLI and the Retrain dock's child process both
iterate this generator.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from napari_histoseg.training.dataset_format import Manifest, read_manifest
from napari_histoseg.training.evaluate import Evaluation, evaluate_checkpoint
from napari_histoseg.training.loop import EpochStats, Trainer
from napari_histoseg.training.patch_dataset import PatchDataset
from napari_histoseg.training.run_config import RunConfig
from napari_histoseg.training.run_folder import RunFolder


@dataclass(frozen=True)
class RunStarted:
    """Sent once, before the first epoch."""

    train_patches: int
    val_patches: int
    resumed_from_epoch: int
    epochs: int


@dataclass(frozen=True)
class RunFinished:
    """The best checkpoint and its test-split scores."""

    checkpoint: Path
    best_epoch: int
    test: Evaluation | None


def run_training(config: RunConfig) -> Generator[RunStarted | EpochStats | RunFinished, None, None]:
    """Train as ``config`` says, resuming from ``config.output`` if it holds a state."""
    import torch

    from napari_histoseg.models.registry import save_checkpoint

    manifest = ensure_dataset(config)
    base = _load_base(config)
    normalisation = base.config.normalisation if base else dataset_normalisation(config.dataset)
    train_set = PatchDataset(config.dataset, "train", normalisation, crop=config.crop,
                             augment_params=config.augment, seed=config.train.seed,
                             weight_sources=config.source_weights)
    val_set = PatchDataset(config.dataset, "val", normalisation)
    torch.manual_seed(config.train.seed)
    model = base.model if base else _new_model(config)
    trainer = Trainer(model, train_set, val_set, config.train)
    folder = RunFolder(config.output)
    state = folder.latest_state()
    history = state[1].get("history", []) if state else []
    if state:
        trainer.load_state(*state)
    yield RunStarted(len(train_set), len(val_set), trainer.epoch, config.train.epochs)
    model_config = checkpoint_config(config, manifest, normalisation, base)
    for stats in trainer.epochs():
        if stats.improved or not folder.best_path.is_file():
            save_checkpoint(trainer.model, model_config, folder.best_path)
        history.append(stats.as_dict())
        folder.save_state(trainer.state_tensors(), {**trainer.state_meta(), "history": history})
        yield stats
    yield finish(config, folder, trainer.best_epoch)


def finish(config: RunConfig, folder: RunFolder, best_epoch: int) -> RunFinished:
    """Evaluate the best checkpoint on the test split and record the figures in it."""
    from napari_histoseg.models.registry import read_config, save_config

    manifest = read_manifest(config.dataset)
    test = None
    if manifest.split("test"):
        test = evaluate_checkpoint(folder.best_path, _shown(config.dataset), "test")
        model_config = read_config(folder.best_path)
        save_config(replace(model_config, metrics=test.as_metrics()), folder.best_path)
    return RunFinished(folder.best_path, best_epoch, test)


def ensure_dataset(config: RunConfig) -> Manifest:
    """The run's dataset manifest, building the dataset first when the config says how."""
    if not (config.dataset / "manifest.json").is_file() and config.build:
        from napari_histoseg.training.build_dataset import BuildParams, build_dataset
        from napari_histoseg.training.sources import source_from_dict

        sources = [source_from_dict(spec) for spec in config.build.get("sources", [])]
        build_dataset(sources, config.dataset, BuildParams(**config.build.get("params", {})),
                      class_names=tuple(name for name, _ in config.model.classes))
    return read_manifest(config.dataset)


def dataset_normalisation(root: Path, max_patches: int = 1000) -> dict:
    """Mean and std of the training patches' RGB (0-1), the model's input normalisation,
    from at most ``max_patches`` patches spread evenly over the split."""
    data = PatchDataset(root, "train", {"mean": [0, 0, 0], "std": [1, 1, 1]})
    chosen = np.unique(np.linspace(0, len(data) - 1, min(len(data), max_patches)).astype(int))
    pixels = np.concatenate([data.pair(int(i))[0].reshape(-1, 3)[::7] for i in chosen])
    scaled = pixels.astype(np.float64) / 255
    return {"mean": [round(float(v), 4) for v in scaled.mean(0)],
            "std": [round(float(v), 4) for v in scaled.std(0)]}


def checkpoint_config(config: RunConfig, manifest: Manifest, normalisation: dict, base):
    """The ModelConfig written with every best checkpoint of this run."""
    from napari_histoseg.inference.flip_views import CARD_KEY as FLIPS_KEY
    from napari_histoseg.models.registry import ModelConfig

    stains = [p.source_stain["mean"] for p in manifest.split("train") if p.source_stain]
    inherited = ({FLIPS_KEY: base.config.card[FLIPS_KEY]}
                 if base and FLIPS_KEY in base.config.card else {})
    card = {**inherited, **config.card, "dataset": str(_shown(config.dataset)),
            "sources": [s["name"] for s in manifest.sources],
            "train_patches": len(manifest.split("train")),
            "stain_range": _stain_range(stains)}
    hyperparameters = base.config.hyperparameters if base else dict(config.model.hyperparameters)
    return ModelConfig(
        architecture=config.model.architecture, hyperparameters=hyperparameters,
        class_names=tuple(n for n, _ in config.model.classes),
        class_colors=tuple(c for _, c in config.model.classes), input_mpp=manifest.mpp,
        normalisation=normalisation, tile_size=config.model.tile_size,
        provenance=f"histoseg train --config {config.source_file}" + (
            f"; fine-tuned from {config.model.base.name} ({base.sha256[:12]})" if base else ""),
        stain=manifest.stain, card=card)


def _shown(path: Path) -> Path:
    """``path`` relative to the working folder when inside it, so checkpoints name no home folders."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _stain_range(means: list) -> dict | None:
    if not means:
        return None
    values = np.asarray(means)
    return {"mean_min": values.min(0).round(2).tolist(), "mean_max": values.max(0).round(2).tolist()}


def _new_model(config: RunConfig):
    from napari_histoseg.models.registry import create_model

    return create_model(config.model.architecture, num_classes=len(config.model.classes),
                        **config.model.hyperparameters)


def _load_base(config: RunConfig):
    if config.model.base is None:
        return None
    from napari_histoseg.models.registry import load_checkpoint

    loaded = load_checkpoint(config.model.base, device="cpu")
    loaded.model.train()
    return loaded
