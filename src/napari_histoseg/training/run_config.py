"""A training run's configuration, read from YAML (``histoseg train --config FILE``).

Relative paths are resolved against the config file's folder. Keys::

    name: hinet-small-real              # checkpoint name
    output: runs/hinet-small-real       # run folder: state, history, best checkpoint
    dataset:
      path: datasets/real               # a built dataset (see dataset_format)
      build: {params: {...}, sources: [...]}   # optional: built first when path has none
    model:
      architecture: hinet
      hyperparameters: {size: small}
      base: null                        # a checkpoint to fine-tune from
      classes: [[non-tumour, "#000000"], [tumour, "#ff2a2a"]]
      tile_size: 512
    train: {epochs: 40, batch_size: 8, learning_rate: 1.0e-3, ...}   # TrainConfig
    crop: 256                           # training crop side (px)
    augment: {...}                      # AugmentParams
    source_weights: {corrections: 4.0}  # sampling weight multipliers per source name
    card: {...}                         # model-card text copied into the checkpoint
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from napari_histoseg.io.errors import FileError
from napari_histoseg.training.augment import AugmentParams
from napari_histoseg.training.loop import TrainConfig

TOP_LEVEL_KEYS = {"name", "output", "dataset", "model", "train", "crop", "augment",
                  "source_weights", "card"}


class ConfigError(FileError):
    """A training config that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class ModelSpec:
    architecture: str = "hinet"
    hyperparameters: dict = field(default_factory=lambda: {"size": "tiny"})
    base: Path | None = None
    classes: tuple[tuple[str, str], ...] = (("non-tumour", "#000000"), ("tumour", "#ff2a2a"))
    tile_size: int = 512


@dataclass(frozen=True)
class RunConfig:
    """Everything ``run_training`` needs."""

    name: str
    output: Path
    dataset: Path
    build: dict | None
    model: ModelSpec
    train: TrainConfig
    crop: int = 256
    augment: AugmentParams = AugmentParams()
    source_weights: dict = field(default_factory=dict)
    card: dict = field(default_factory=dict)
    source_file: Path | None = None

    def with_overrides(self, **train_overrides) -> RunConfig:
        """A copy with TrainConfig fields replaced (None values are ignored)."""
        values = {k: v for k, v in train_overrides.items() if v is not None}
        return replace(self, train=replace(self.train, **values)) if values else self


def read_run_config(path: str | Path) -> RunConfig:
    """Parse a YAML training config; ConfigError naming the file and the key when it is wrong."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "training config not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(path, f"not valid YAML ({error})") from error
    try:
        return _parse(data, path.parent.resolve(), path)
    except (ValueError, TypeError, KeyError) as error:
        raise ConfigError(path, str(error)) from error


def _parse(data: dict, base: Path, path: Path) -> RunConfig:
    unknown = sorted(set(data) - TOP_LEVEL_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}; valid keys: {sorted(TOP_LEVEL_KEYS)}")
    for key in ("name", "output", "dataset"):
        if key not in data:
            raise ValueError(f"missing key {key!r}")
    dataset = dict(data["dataset"])
    model = dict(data.get("model", {}))
    if model.get("base"):
        model["base"] = _resolve(base, model["base"])
    if "classes" in model:
        model["classes"] = tuple(tuple(c) for c in model["classes"])
    build = dataset.get("build")
    if build:
        build = {**build, "sources": [_resolve_paths(base, s) for s in build.get("sources", [])]}
    return RunConfig(
        name=str(data["name"]), output=_resolve(base, data["output"]),
        dataset=_resolve(base, dataset["path"]), build=build, model=ModelSpec(**model),
        train=TrainConfig(**data.get("train", {})), crop=int(data.get("crop", 256)),
        augment=AugmentParams(**data.get("augment", {})),
        source_weights=dict(data.get("source_weights", {})), card=dict(data.get("card", {})),
        source_file=path)


def _resolve_paths(base: Path, source: dict) -> dict:
    return {**source, **{key: str(_resolve(base, source[key]))
                         for key in ("path", "labels") if key in source}}


def _resolve(base: Path, value) -> Path:
    candidate = Path(str(value)).expanduser()
    return candidate if candidate.is_absolute() else (base / candidate).resolve()
