"""``histoseg models``: the registered architectures and the installed checkpoints.

Checkpoints are looked for, in order, in each folder of ``$HISTOSEG_MODELS``
(separated by ``os.pathsep``), in the model library (``models.library``), in
``~/.cache/napari-histoseg/models`` and in the package's own ``models/weights/``
folder. The library's adopted models are listed first and marked active, so the
Segment dock offers them by default. Importing this module does not import torch.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from napari_histoseg.models.library import LibraryError, ModelLibrary, library_root

PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"
#: The demo model shipped with the package (made by training/configs/hinet-tiny-synthetic.yaml).
BUNDLED_CHECKPOINT = PACKAGE_WEIGHTS / "hinet-tiny-synthetic.safetensors"
#: The starter model for real H&E (made by training/configs/real-tissue.yaml).
REAL_TISSUE_CHECKPOINT = PACKAGE_WEIGHTS / "hinet-small-real.safetensors"
#: The H&E + CK5/6 fusion demo model (made by training/fusion_tiny_synthetic.py); named so that
#: it sorts after the HI-Net checkpoints, which the Retrain dock offers first as its base.
FUSION_CHECKPOINT = PACKAGE_WEIGHTS / "tiny-fusion-synthetic.safetensors"
USER_CACHE = Path("~/.cache/napari-histoseg/models")


def checkpoint_folders(environ: dict[str, str] | None = None) -> list[Path]:
    """The folders searched for checkpoints, in order, existing or not."""
    environ = os.environ if environ is None else environ
    listed = [Path(p).expanduser() for p in environ.get("HISTOSEG_MODELS", "").split(os.pathsep) if p]
    return [*listed, library_root(environ), USER_CACHE.expanduser(), PACKAGE_WEIGHTS]


@dataclass(frozen=True)
class CheckpointEntry:
    """One ``.safetensors`` file found: its config summary, or why it cannot be used."""

    path: Path
    summary: str
    usable: bool
    active: bool = False
    architecture: str = ""


def find_checkpoints(folders: list[Path], library: ModelLibrary | None = None) -> list[CheckpointEntry]:
    """Every ``*.safetensors`` in ``folders`` (not recursive), described from its JSON config
    only; the ``library``'s adopted models (default: the user's library) come first."""
    entries = _describe(folders)
    adopted = {e.path.resolve() for e in (library or ModelLibrary()).adopted().values()}
    marked = [replace(e, summary=f"active; {e.summary}", active=True)
              if e.path.resolve() in adopted else e for e in entries]
    return sorted(marked, key=lambda e: not e.active)


def _describe(folders: list[Path]) -> list[CheckpointEntry]:
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
            entries.append(CheckpointEntry(path, summary, usable=True,
                                           architecture=config.architecture))
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
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--adopt", metavar="NAME", help="make library model NAME the active one")
    action.add_argument("--rollback", nargs="?", const="hinet", metavar="ROLE",
                        help="return ROLE (default hinet) to the model adopted before")
    action.add_argument("--add", type=Path, metavar="CHECKPOINT",
                        help="copy a .safetensors (with its .json) into the library")
    parser.set_defaults(func=run_models_command)


def run_models_command(args: argparse.Namespace | None = None) -> int:
    """Adopt, roll back or add when asked; otherwise print the architectures with parameter
    counts per size, then the checkpoints found (active ones marked with *)."""
    from napari_histoseg.models.registry import available_models

    if args is not None and (args.adopt or args.rollback or args.add):
        return _change_library(args)
    print("Architectures (create_model name: parameters per size)")
    for name in available_models():
        sizes = ", ".join(f"{size} {count / 1e6:.2f} M" for size, count in parameter_counts(name).items())
        print(f"  {name}: {sizes}")
    folders = checkpoint_folders()
    print("Checkpoints in " + ", ".join(str(f) for f in folders))
    entries = find_checkpoints(folders)
    for entry in entries:
        print(f"{'*' if entry.active else ' '} {entry.path}: {entry.summary}")
    if not entries:
        print("  none found; put <name>.safetensors with its <name>.json in one of these folders")
    print(f"Library: {library_root()} (* = active; change with --adopt NAME or --rollback)")
    return 0


def _change_library(args: argparse.Namespace) -> int:
    library = ModelLibrary()
    try:
        if args.add:
            entry = library.add(args.add)
            print(f"added {entry.name} to {library.root}")
        elif args.adopt:
            entry = library.adopt(args.adopt)
            print(f"active {entry.role} model: {entry.name}")
        else:
            entry = library.rollback(args.rollback)
            print(f"active {args.rollback} model: {entry.name if entry else 'the bundled default'}")
    except LibraryError as error:
        print(f"histoseg models: error: {error}", file=sys.stderr)
        return 2
    return 0
