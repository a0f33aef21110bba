"""Bounds on a checkpoint's JSON config, checked before a model is built, and the model hash.

A checkpoint's config decides how big a network ``create_model`` builds, so a crafted
``hyperparameters`` block could ask for millions of layers or channels and exhaust
memory. ``check_config_bounds`` refuses numbers and lists beyond any real model's, and
``check_parameter_count`` builds the network on torch's "meta" device (shapes only, no
memory) and refuses more than ``MAX_PARAMETERS`` before the real build.

``model_sha256`` hashes the weights file together with the config fields that change
predictions (architecture, hyperparameters, classes, µm/px, tile size, normalisation,
stain), so the same weights with another normalisation or µm/px are another model.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from napari_histoseg.io.errors import FileError

#: Largest network a checkpoint may describe (the papers' models have 46-78 M).
MAX_PARAMETERS = 300_000_000
#: Bounds on any integer, list length and nesting in ``hyperparameters``.
MAX_INT, MAX_LIST, MAX_DEPTH = 4096, 32, 3
MAX_CLASSES, MAX_TILE = 256, 8192
MPP_RANGE = (0.05, 50.0)
#: Config fields that change what a model predicts, and so its identity.
IDENTITY_FIELDS = ("architecture", "hyperparameters", "class_names", "input_mpp",
                   "tile_size", "normalisation", "stain")
HASH_VERSION = "napari-histoseg-model-2"


def check_config_bounds(config, path: Path, error: type[FileError]) -> None:
    """Raise ``error(path, ...)`` when a ``ModelConfig`` holds values no real model has."""
    _check_value(config.hyperparameters, "hyperparameters", path, error, depth=0)
    if len(config.class_names) > MAX_CLASSES:
        raise error(path, f"config lists {len(config.class_names)} classes; at most "
                          f"{MAX_CLASSES} are supported")
    if not 16 <= config.tile_size <= MAX_TILE:
        raise error(path, f"config tile_size {config.tile_size} is outside 16-{MAX_TILE} px")
    if not MPP_RANGE[0] <= config.input_mpp <= MPP_RANGE[1]:
        raise error(path, f"config input_mpp {config.input_mpp} is outside "
                          f"{MPP_RANGE[0]}-{MPP_RANGE[1]} µm/px")
    for key in ("mean", "std"):
        values = config.normalisation[key]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and abs(v) <= 1e3
                   for v in values):
            raise error(path, f"config normalisation {key} {values!r} must be three finite "
                              "numbers")


def _check_value(value, where: str, path: Path, error: type[FileError], depth: int) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str) and len(value) < 256:
        return
    if isinstance(value, int):
        if not -MAX_INT <= value <= MAX_INT:
            raise error(path, f"config {where} = {value} is outside ±{MAX_INT}; a crafted or "
                              "damaged config would build an enormous network")
        return
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) > MAX_INT:
            raise error(path, f"config {where} = {value} is not a finite number within "
                              f"±{MAX_INT}")
        return
    if isinstance(value, (list, tuple, dict)) and depth < MAX_DEPTH and len(value) <= MAX_LIST:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            _check_value(item, f"{where}.{key}", path, error, depth + 1)
        return
    raise error(path, f"config {where} is not a small number, string or list "
                      f"(at most {MAX_LIST} entries, nested {MAX_DEPTH} deep)")


def check_parameter_count(architecture: str, hyperparameters: dict, path: Path,
                          error: type[FileError]) -> int:
    """Build the network on the meta device and return its parameter count; refuse
    more than ``MAX_PARAMETERS``."""
    import torch

    from napari_histoseg.models.registry import create_model

    with torch.device("meta"):
        model = create_model(architecture, **hyperparameters)
    count = sum(p.numel() for p in model.parameters())
    if count > MAX_PARAMETERS:
        raise error(path, f"config describes a {architecture} with {count / 1e6:,.0f} M "
                          f"parameters; at most {MAX_PARAMETERS / 1e6:,.0f} M are loaded")
    return count


def model_sha256(weights_sha256: str, config) -> str:
    """Hex SHA-256 of the weights' hash and the identity fields of ``config``
    (canonical JSON: sorted keys, no spaces)."""
    data = config.to_dict()
    identity = {key: data[key] for key in IDENTITY_FIELDS}
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(f"{HASH_VERSION}\n{weights_sha256}\n{text}".encode()).hexdigest()
