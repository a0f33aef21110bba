"""``create_model`` by name, and checkpoints as safetensors weights plus a JSON config.

A checkpoint is two files with one stem: ``name.safetensors`` (the state dict,
with the architecture in its metadata) and ``name.json`` (``ModelConfig``).
Nothing is unpickled: safetensors holds raw tensors only.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from napari_histoseg.io.errors import FileError
from napari_histoseg.models.checkpoint_checks import (check_config_bounds,
                                                      check_parameter_count, model_sha256)
from napari_histoseg.models.device import prepare_model, select_device

FORMAT = "napari-histoseg-checkpoint"
FORMAT_VERSION = 1
# name -> (module, class, size presets); modules are imported on first use.
_MODELS = {
    "hinet": ("napari_histoseg.models.hinet", "HINet", "HINET_SIZES"),
    "edge_fusion": ("napari_histoseg.models.edge_fusion", "EdgeFusionNet", "EDGE_FUSION_SIZES"),
}
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
#: A checkpoint's JSON config larger than this is refused unread.
MAX_CONFIG_BYTES = 4 * 2**20


class CheckpointError(FileError):
    """A checkpoint that cannot be loaded; the message starts with the file's path."""


def available_models() -> list[str]:
    """Registered architecture names, for ``create_model``."""
    return sorted(_MODELS)


def model_class(name: str) -> tuple[type[nn.Module], dict[str, dict]]:
    """The class registered as ``name`` and its size presets ("tiny", "paper", ...)."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {available_models()}")
    module_name, class_name, sizes_name = _MODELS[name]
    module = importlib.import_module(module_name)
    return getattr(module, class_name), getattr(module, sizes_name)


def create_model(name: str, **config) -> nn.Module:
    """Build a registered network: ``size`` picks a preset ("paper" by default), other keys override it.

    >>> create_model("hinet", size="tiny", tda=False).num_classes
    2
    """
    cls, sizes = model_class(name)
    size = config.pop("size", "paper")
    if size not in sizes:
        raise ValueError(f"unknown size {size!r} for {name!r}; valid sizes: {sorted(sizes)}")
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(config) - set(valid))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown} for {name!r}; valid keys: {['size', *valid]}")
    merged = {**sizes[size], **config}
    return cls(**{key: tuple(v) if isinstance(v, list) else v for key, v in merged.items()})


@dataclass(frozen=True)
class ModelConfig:
    """Everything besides the weights that a checkpoint needs to be used correctly.

    hyperparameters: the keyword arguments for ``create_model(architecture, ...)``.
    class_names, class_colors: one per class, colours as "#rrggbb"; class 0 is background.
    input_mpp: µm/px the model expects its input at. normalisation: {"mean": [r, g, b],
    "std": [r, g, b]} applied to RGB scaled to 0-1. tile_size: input tile side in px.
    provenance: hash or notes of the training run.
    stain: the stain normalisation its inputs had in training, e.g. {"method": "reinhard",
    "mean": [L, a, b], "std": [L, a, b]} (see ``stain``), or None for raw RGB.
    metrics: held-out scores recorded at training time ({"data", "split", "acc", ...}).
    card: the model card: data seen, µm/px, limits, training stain range.
    """

    architecture: str
    hyperparameters: dict = field(default_factory=dict)
    class_names: tuple[str, ...] = ("non-tumour", "tumour")
    class_colors: tuple[str, ...] = ("#000000", "#ff0000")
    input_mpp: float = 1.0
    normalisation: dict = field(default_factory=lambda: {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]})
    tile_size: int = 512
    provenance: str = ""
    stain: dict | None = None
    metrics: dict = field(default_factory=dict)
    card: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "class_colors", tuple(self.class_colors))
        if len(self.class_names) != len(self.class_colors) or not self.class_names:
            raise ValueError(f"need one colour per class: {len(self.class_names)} names, "
                             f"{len(self.class_colors)} colours")
        bad = [c for c in self.class_colors if not _HEX_COLOUR.match(str(c))]
        if bad:
            raise ValueError(f"class colours must be '#rrggbb', got {bad}")
        if not self.input_mpp > 0 or self.tile_size <= 0:
            raise ValueError(f"input_mpp and tile_size must be positive, got {self.input_mpp}, {self.tile_size}")
        for key in ("mean", "std"):
            values = self.normalisation.get(key)
            if not isinstance(values, (list, tuple)) or len(values) != 3:
                raise ValueError(f"normalisation needs '{key}': three numbers (r, g, b), got {values!r}")
        if any(s <= 0 for s in self.normalisation["std"]):
            raise ValueError(f"normalisation std must be positive, got {self.normalisation['std']}")

    def to_dict(self) -> dict:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} config (format is {data.get('format')!r})")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"config format_version {data.get('format_version')!r} is not supported "
                             f"(this version reads {FORMAT_VERSION})")
        names = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - names - {"format", "format_version"})
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}; valid fields: {sorted(names)}")
        return cls(**{key: value for key, value in data.items() if key in names})


@dataclass(frozen=True)
class LoadedModel:
    """A network ready for inference (eval mode, on its device), its config, and the model's
    hash: weights and config together (``checkpoint_checks.model_sha256``)."""

    model: nn.Module
    config: ModelConfig
    sha256: str


def config_path(weights_path: str | Path) -> Path:
    """The JSON config that sits beside a ``.safetensors`` weights file."""
    return Path(weights_path).with_suffix(".json")


def save_checkpoint(model: nn.Module, config: ModelConfig, path: str | Path) -> Path:
    """Write ``path`` (.safetensors) and its JSON config beside it; returns ``path``.

    Both files are written to temporary names and fsynced first, then renamed one
    right after the other (and the folder fsynced), so a crash never leaves half a
    file under a final name, and the pair is replaced together.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: checkpoint weights must be a .safetensors file")
    cls, _ = model_class(config.architecture)
    if not isinstance(model, cls):
        raise ValueError(f"{path}: config says {config.architecture!r} ({cls.__name__}) but the "
                         f"model is a {type(model).__name__}")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().to("cpu").contiguous() for key, value in model.state_dict().items()}
    metadata = {"format": FORMAT, "architecture": config.architecture}
    text = json.dumps(config.to_dict(), indent=2)
    _write_pair([(path, lambda tmp: save_file(state, str(tmp), metadata=metadata)),
                 (config_path(path), lambda tmp: tmp.write_text(text))])
    return path


def save_config(config: ModelConfig, weights_path: str | Path) -> Path:
    """Write (or replace) the JSON config beside ``weights_path``, atomically."""
    from napari_histoseg.io.atomic import atomic_write_bytes

    return atomic_write_bytes(config_path(weights_path), json.dumps(config.to_dict(), indent=2).encode())


def _write_pair(files) -> None:
    """Write each (path, write) to a temporary file and fsync it; then rename all."""
    from napari_histoseg.io.atomic import fsync_dir, full_disk_reported, temporary_name

    staged = []
    try:
        for path, write in files:
            tmp = temporary_name(path)
            staged.append((tmp, path))
            with full_disk_reported(path):
                write(tmp)
                with open(tmp, "rb+") as handle:
                    os.fsync(handle.fileno())
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    fsync_dir(Path(files[0][0]).parent)


def read_config(path: str | Path) -> ModelConfig:
    """The ``ModelConfig`` of a checkpoint, without reading its weights; CheckpointError if unusable."""
    path = Path(path)
    json_path = config_path(path)
    if not json_path.is_file():
        raise CheckpointError(path, f"its config {json_path.name} is missing; a checkpoint is a "
                                    ".safetensors file plus a .json config with the same name")
    if json_path.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(path, f"its config {json_path.name} is "
                                    f"{json_path.stat().st_size:,} bytes; a config is a few kB "
                                    f"(at most {MAX_CONFIG_BYTES:,} are read)")
    try:
        config = ModelConfig.from_dict(json.loads(json_path.read_text()))
    except (ValueError, TypeError, AttributeError, RecursionError) as error:
        raise CheckpointError(path, f"config {json_path.name} is invalid: {error}") from error
    if config.architecture not in _MODELS:
        raise CheckpointError(path, f"architecture {config.architecture!r} is not registered; "
                                    f"valid: {available_models()}")
    check_config_bounds(config, path, CheckpointError)
    return config


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load and validate a checkpoint written by ``save_checkpoint``; the model is in eval mode on ``device``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "weights file not found; give the path of a .safetensors checkpoint")
    if path.suffix != ".safetensors":
        raise CheckpointError(path, "only .safetensors checkpoints are loaded; pickle-based files "
                                    "(.pt, .pth, .ckpt) are refused because loading them can run "
                                    "code. Convert it with safetensors where it was made")
    config = read_config(path)
    state = _read_weights(path, config.architecture)
    try:
        check_parameter_count(config.architecture, config.hyperparameters, path, CheckpointError)
        model = create_model(config.architecture, **config.hyperparameters)
    except (ValueError, TypeError) as error:
        raise CheckpointError(path, f"cannot build {config.architecture!r} from its hyperparameters: "
                                    f"{error}") from error
    _check_state(path, model.state_dict(), state)
    model.load_state_dict(state, strict=True)
    return LoadedModel(prepare_model(model, select_device(device)), config,
                       model_sha256(file_sha256(path), config))


def _read_weights(path: Path, architecture: str) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(path, f"not a readable safetensors file ({error})") from error
    saved = metadata.get("architecture")
    if saved != architecture:
        raise CheckpointError(path, f"weights were saved for architecture {saved!r} but the config "
                                    f"says {architecture!r}; pair each .safetensors with its own .json")
    return state


def _check_state(path: Path, expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> None:
    """Raise CheckpointError listing missing keys, unexpected keys and shape mismatches."""
    problems = []
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing:
        problems.append(f"{len(missing)} missing key(s), e.g. {missing[:3]}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s), e.g. {unexpected[:3]}")
    shapes = [f"{key}: file {tuple(found[key].shape)}, model {tuple(expected[key].shape)}"
              for key in sorted(set(expected) & set(found)) if found[key].shape != expected[key].shape]
    if shapes:
        problems.append(f"{len(shapes)} shape mismatch(es), e.g. {shapes[:3]}")
    if problems:
        raise CheckpointError(path, "weights do not fit the architecture in its config: "
                                    + "; ".join(problems) + ". Check that the .json belongs to these weights")


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
