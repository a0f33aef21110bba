"""A retraining job as the Retrain dock starts it: a run folder, its YAML config, the child command.

The dock gathers a :class:`RetrainRequest` and calls :func:`prepare_run`, which
checks the dataset (a ``DatasetError`` naming the folder when it cannot be used),
writes ``config.yaml`` into a new run folder, and returns what to start:
``python -m napari_histoseg.cli train --config <run>/config.yaml --json`` in a
separate process (so a hard kill never touches the GUI's process). Run folders
live under ``$HISTOSEG_RUNS``, else ``platformdirs.user_data_dir("napari-histoseg")/runs``.
Nothing here imports torch or Qt.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from napari_histoseg.io.errors import FileError
from napari_histoseg.training.dataset_format import DatasetError, read_manifest

#: Colours given to a new model's classes (class 0 is background).
CLASS_COLOURS = ("#000000", "#ff2a2a", "#2a7fff", "#2aff7f", "#ffd42a")
#: The architecture trained when no base model is chosen.
NEW_MODEL = {"architecture": "hinet", "hyperparameters": {"size": "tiny"}}
MAX_CROP = 256


@dataclass(frozen=True)
class RetrainRequest:
    """What the user chose. ``base`` None trains a new tiny HI-Net; ``learning_rate`` per step."""

    dataset: Path
    base: Path | None
    epochs: int
    learning_rate: float
    batch_size: int = 4

    def __post_init__(self):
        if self.epochs < 1 or self.learning_rate <= 0 or self.batch_size < 1:
            raise ValueError(f"epochs and batch size must be >= 1 and the learning rate > 0, "
                             f"got {self.epochs}, {self.batch_size}, {self.learning_rate}")


@dataclass(frozen=True)
class PreparedRun:
    """A run folder with its config, and the child process to start."""

    name: str
    folder: Path
    config: Path
    command: tuple[str, ...]
    environment: dict[str, str]


def runs_root(environ: dict[str, str] | None = None) -> Path:
    """``$HISTOSEG_RUNS`` if set, else the per-user data folder's ``runs``."""
    environ = os.environ if environ is None else environ
    if environ.get("HISTOSEG_RUNS"):
        return Path(environ["HISTOSEG_RUNS"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("napari-histoseg")) / "runs"


def prepare_run(request: RetrainRequest, root: Path | None = None) -> PreparedRun:
    """Check the dataset, write ``<root>/<name>/config.yaml`` and return the child's command."""
    import yaml

    manifest = read_manifest(request.dataset)
    for split in ("train", "val", "test"):
        if not manifest.split(split):
            raise DatasetError(request.dataset, f"its {split} split is empty; the dock needs "
                                                "train, val and test patches (rebuild with more images)")
    root = runs_root() if root is None else Path(root)
    name = _free_name(root)
    folder = root / name
    folder.mkdir(parents=True)
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(run_config(request, manifest, name), sort_keys=False))
    command = (sys.executable, "-m", "napari_histoseg.cli", "train", "--config", str(config), "--json")
    return PreparedRun(name, folder, config, command, child_environment(dict(os.environ)))


def run_config(request: RetrainRequest, manifest, name: str) -> dict:
    """The YAML config (as a dict) for ``request`` on a dataset with ``manifest``."""
    model = {**NEW_MODEL, "classes": [[n, CLASS_COLOURS[i % len(CLASS_COLOURS)]]
                                      for i, n in enumerate(manifest.class_names)]}
    if request.base is not None:
        model = _base_model(request.base, manifest)
    largest = max(max(p.size) for p in manifest.split("train"))
    return {
        "name": name, "output": ".",
        "dataset": {"path": str(Path(request.dataset).resolve())},
        "model": model,
        "train": {"epochs": request.epochs, "learning_rate": request.learning_rate,
                  "batch_size": request.batch_size, "seed": 0},
        "crop": min(MAX_CROP, -(-largest // 32) * 32),
        "card": {"trained_by": "napari-histoseg Retrain dock"},
    }


def child_environment(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` with unbuffered output and this package importable by the child."""
    package_parent = str(Path(__file__).resolve().parents[2])
    paths = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**environ, "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join([package_parent, *[p for p in paths if p != package_parent]])}


def child_error(stderr: str, exit_code: int) -> str:
    """One line saying why the child failed: its ``error:`` line, or the last line of a traceback."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if "error:" in line and line.startswith("histoseg"):
            return line.split("error:", 1)[1].strip()
    if lines:
        return lines[-1]
    return f"the training process exited with code {exit_code} and printed nothing"


def _base_model(base: Path, manifest) -> dict:
    config_path = Path(base).with_suffix(".json")
    try:
        config = json.loads(config_path.read_text())
        names, colours = list(config["class_names"]), list(config["class_colors"])
        model = {"architecture": config["architecture"],
                 "hyperparameters": dict(config["hyperparameters"]), "base": str(Path(base).resolve()),
                 "classes": [list(c) for c in zip(names, colours)],
                 "tile_size": int(config.get("tile_size", 512))}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise FileError(config_path, f"the base model's config cannot be read ({error})") from error
    if len(names) != len(manifest.class_names):
        raise FileError(base, f"the base model has {len(names)} classes {names}, the dataset "
                                 f"{len(manifest.class_names)} {list(manifest.class_names)}")
    return model


def _free_name(root: Path) -> str:
    stamp = time.strftime("retrain-%Y%m%d-%H%M%S")
    name, index = stamp, 2
    while (root / name).exists():
        name, index = f"{stamp}-{index}", index + 1
    return name
