"""``histoseg models``: the registered architectures and the installed checkpoints.

Checkpoints are looked for, in order, in each folder of ``$HISTOSEG_MODELS``
(separated by ``os.pathsep``), in ``~/.cache/napari-histoseg/models`` and in the
package's own ``models/weights/`` folder. Importing this module does not import torch.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"
#: The demo model shipped with the package (made by training/bundled_hinet.py).
BUNDLED_CHECKPOINT = PACKAGE_WEIGHTS / "hinet-tiny-synthetic.safetensors"
#: The starter model for real H&E (made by training/configs/real-tissue.yaml).
REAL_TISSUE_CHECKPOINT = PACKAGE_WEIGHTS / "hinet-small-real.safetensors"
USER_CACHE = Path("~/.cache/napari-histoseg/models")


def checkpoint_folders(environ: dict[str, str] | None = None) -> list[Path]:
    """The folders searched for checkpoints, in order, existing or not."""
    environ = os.environ if environ is None else environ
    listed = [Path(p).expanduser() for p in environ.get("HISTOSEG_MODELS", "").split(os.pathsep) if p]
    return [*listed, USER_CACHE.expanduser(), PACKAGE_WEIGHTS]


@dataclass(frozen=True)
class CheckpointEntry:
    """One ``.safetensors`` file found: its config summary, or why it cannot be used."""

    path: Path
    summary: str
    usable: bool


def find_checkpoints(folders: list[Path]) -> list[CheckpointEntry]:
    """Every ``*.safetensors`` in ``folders`` (not recursive), described from its JSON config only."""
    from napari_histoseg.models.registry import CheckpointError, read_config

    entries = []
    for folder in folders:
        for path in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
            try:
                config = read_config(path)
            except CheckpointError as error:
                entries.append(CheckpointEntry(path, f"unusable: {error.problem}", usable=False))
                continue
            classes = ", ".join(config.class_names)
            summary = (f"{config.architecture} {config.hyperparameters}, classes [{classes}], "
                       f"{config.input_mpp:g} µm/px, tile {config.tile_size}, "
                       f"{path.stat().st_size / 2**20:.1f} MiB, provenance {config.provenance or '-'}")
            entries.append(CheckpointEntry(path, summary, usable=True))
    return entries


def parameter_counts(name: str) -> dict[str, int]:
    """Parameters of each size preset of ``name``, counted on the meta device (no memory, no time)."""
    import torch

    from napari_histoseg.models.registry import create_model, model_class

    _, sizes = model_class(name)
    counts = {}
    for size in sizes:
        with torch.device("meta"):
            model = create_model(name, size=size)
        counts[size] = sum(p.numel() for p in model.parameters())
    return counts


def add_models_command(subparsers) -> None:
    """Register ``histoseg models`` on an argparse subparsers object."""
    parser = subparsers.add_parser(
        "models", help="list model architectures and installed checkpoints")
    parser.set_defaults(func=run_models_command)


def run_models_command(args: argparse.Namespace | None = None) -> int:
    """Print the architectures with parameter counts per size, then the checkpoints found."""
    from napari_histoseg.models.registry import available_models

    print("Architectures (create_model name: parameters per size)")
    for name in available_models():
        sizes = ", ".join(f"{size} {count / 1e6:.2f} M" for size, count in parameter_counts(name).items())
        print(f"  {name}: {sizes}")
    folders = checkpoint_folders()
    print("Checkpoints in " + ", ".join(str(f) for f in folders))
    entries = find_checkpoints(folders)
    for entry in entries:
        print(f"  {entry.path}: {entry.summary}")
    if not entries:
        print("  none found; put <name>.safetensors with its <name>.json in one of these folders")
    return 0
