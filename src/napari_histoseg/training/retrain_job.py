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


#: How much more often a corrected region is drawn than a dataset patch.
CORRECTION_WEIGHT = 4.0


@dataclass(frozen=True)
class RetrainRequest:
    """What the user chose. ``base`` None trains a new tiny HI-Net; ``learning_rate`` per step.

    ``dataset`` is a built dataset folder and ``corrections`` a slide's workspace folder whose
    corrections to learn from (weighted up); give either or both.
    """

    dataset: Path | None
    base: Path | None
    epochs: int
    learning_rate: float
    batch_size: int = 4
    corrections: Path | None = None

    def __post_init__(self):
        if self.epochs < 1 or self.learning_rate <= 0 or self.batch_size < 1:
            raise ValueError(f"epochs and batch size must be >= 1 and the learning rate > 0, "
                             f"got {self.epochs}, {self.batch_size}, {self.learning_rate}")
        if self.dataset is None and self.corrections is None:
            raise ValueError("choose a dataset folder, this slide's corrections, or both")


@dataclass(frozen=True)
class PreparedRun:
    """A run folder with its config, the dataset it trains on, and the child process to start."""

    name: str
    folder: Path
    config: Path
    command: tuple[str, ...]
    environment: dict[str, str]
    dataset: Path


def runs_root(environ: dict[str, str] | None = None) -> Path:
    """``$HISTOSEG_RUNS`` if set, else the per-user data folder's ``runs``."""
    environ = os.environ if environ is None else environ
    if environ.get("HISTOSEG_RUNS"):
        return Path(environ["HISTOSEG_RUNS"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("napari-histoseg")) / "runs"


def prepare_run(request: RetrainRequest, root: Path | None = None) -> PreparedRun:
    """Check the data, write ``<root>/<name>/config.yaml`` and return the child's command.

    With corrections, the child first builds ``<run>/dataset`` from them (and from the
    chosen dataset, whose patches keep their splits).
    """
    import yaml

    manifest = _checked_manifest(request.dataset) if request.dataset else None
    if request.corrections is not None:
        _check_corrections(request.corrections)
    root = runs_root() if root is None else Path(root)
    name = _free_name(root)
    folder = root / name
    folder.mkdir(parents=True)
    config = run_config(request, manifest, name)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    command = (sys.executable, "-m", "napari_histoseg.cli", "train", "--config",
               str(folder / "config.yaml"), "--json")
    dataset = Path(config["dataset"]["path"])
    return PreparedRun(name, folder, folder / "config.yaml", command,
                       child_environment(dict(os.environ)), dataset if dataset.is_absolute()
                       else folder / dataset)


def run_config(request: RetrainRequest, manifest, name: str) -> dict:
    """The YAML config (as a dict) for ``request``; ``manifest`` is the chosen dataset's, or None."""
    class_names = manifest.class_names if manifest else ("non-tumour", "tumour")
    model = {**NEW_MODEL, "classes": [[n, CLASS_COLOURS[i % len(CLASS_COLOURS)]]
                                      for i, n in enumerate(class_names)]}
    if request.base is not None:
        model = _base_model(request.base, class_names)
    largest = max(max(p.size) for p in manifest.split("train")) if manifest else MAX_CROP
    config = {
        "name": name, "output": ".",
        "dataset": {"path": str(Path(request.dataset).resolve()) if manifest else "dataset"},
        "model": model,
        "train": {"epochs": request.epochs, "learning_rate": request.learning_rate,
                  "batch_size": request.batch_size, "seed": 0},
        "crop": min(MAX_CROP, -(-largest // 32) * 32),
        "card": {"trained_by": "napari-histoseg Retrain dock"},
    }
    if request.corrections is not None:
        config["dataset"] = {"path": "dataset", "build": _corrections_build(request, manifest)}
        config["source_weights"] = {"corrections": CORRECTION_WEIGHT}
    return config


def _corrections_build(request: RetrainRequest, manifest) -> dict:
    sources = [{"kind": "corrections", "name": "corrections", "path": str(request.corrections)}]
    if request.dataset is not None:
        sources.insert(0, {"kind": "dataset", "name": "dataset", "path": str(request.dataset)})
    mpp = manifest.mpp if manifest else _base_mpp(request.base)
    stain = "reinhard" if (manifest is None or manifest.stain) else "none"
    return {"params": {"mpp": mpp, "patch_size": 512, "tumour_fraction": [0.0, 1.0],
                       "min_tissue": 0.0, "stain": stain}, "sources": sources}


def _checked_manifest(dataset: Path):
    manifest = read_manifest(dataset)
    for split in ("train", "val", "test"):
        if not manifest.split(split):
            raise DatasetError(dataset, f"its {split} split is empty; the dock needs "
                                        "train, val and test patches (rebuild with more images)")
    return manifest


def _check_corrections(workspace: Path) -> None:
    from napari_histoseg.io.corrections import CorrectionStore

    count = len(CorrectionStore(Path(workspace) / "corrections").ids()) if (
        Path(workspace) / "corrections").is_dir() else 0
    if count < 3:
        raise FileError(workspace, f"{count} correction(s) saved; retraining from corrections alone "
                                   "needs at least 3 (one each for training, validation and test)")


def _base_mpp(base: Path | None) -> float:
    if base is None:
        return 1.0
    return float(json.loads(Path(base).with_suffix(".json").read_text()).get("input_mpp", 1.0))


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


def _base_model(base: Path, class_names: tuple[str, ...]) -> dict:
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
    if len(names) != len(class_names):
        raise FileError(base, f"the base model has {len(names)} classes {names}, the data "
                                 f"{len(class_names)} {list(class_names)}")
    return model


def _free_name(root: Path) -> str:
    stamp = time.strftime("retrain-%Y%m%d-%H%M%S")
    name, index = stamp, 2
    while (root / name).exists():
        name, index = f"{stamp}-{index}", index + 1
    return name
