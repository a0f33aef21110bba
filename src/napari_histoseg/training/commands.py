"""``histoseg build-dataset``, ``histoseg train`` and ``histoseg evaluate``.

``train --json`` prints one JSON object per event (started, epoch, finished) on
stdout, for the Retrain dock's child process; without it, a line per epoch.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from napari_histoseg.inference.flip_views import VIEWS


def add_training_commands(subparsers) -> None:
    """Register build-dataset, train and evaluate on an argparse subparsers object."""
    _add_build_dataset(subparsers)
    _add_train(subparsers)
    _add_evaluate(subparsers)


def _add_build_dataset(subparsers) -> None:
    parser = subparsers.add_parser(
        "build-dataset", help="cut, normalise and split training patches from image/mask folders")
    parser.add_argument("out", type=Path, help="dataset folder to write")
    parser.add_argument("--pairs", action="append", required=True, metavar="FOLDER:MPP[:ENCODING]",
                        help="a folder with images/ and masks/, its µm/px, and its mask encoding "
                             "(grey, any_channel); repeat for more sources")
    parser.add_argument("--mpp", type=float, default=1.0, help="output µm/px (default 1.0)")
    parser.add_argument("--downsample", type=float, default=None,
                        help="output µm/px = each source's µm/px x this (HI-Net: 4)")
    parser.add_argument("--patch-size", type=int, default=512)
    parser.add_argument("--tumour-fraction", type=float, nargs=2, default=(0.05, 0.995),
                        metavar=("LOW", "HIGH"))
    parser.add_argument("--stain", choices=("reinhard", "none"), default="reinhard")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run_build_dataset)


def run_build_dataset(args: argparse.Namespace) -> int:
    from napari_histoseg.training.build_dataset import BuildParams, build_dataset
    from napari_histoseg.training.sources import source_from_dict

    sources = [source_from_dict(_pairs_spec(text)) for text in args.pairs]
    params = BuildParams(mpp=args.mpp, downsample=args.downsample, patch_size=args.patch_size,
                         tumour_fraction=tuple(args.tumour_fraction), stain=args.stain, seed=args.seed)
    manifest = build_dataset(sources, args.out, params,
                             progress=lambda item: print(f"  {item.group}", flush=True))
    counts = ", ".join(f"{split} {len(manifest.split(split))}" for split in ("train", "val", "test"))
    print(f"wrote {len(manifest.patches)} patches to {args.out} ({counts}); "
          f"tumour-fraction histogram in {args.out / 'summary.png'}")
    return 0


def _pairs_spec(text: str) -> dict:
    parts = text.rsplit(":", 2) if text.count(":") >= 2 else text.rsplit(":", 1)
    if len(parts) < 2:
        raise ValueError(f"--pairs {text!r}: give FOLDER:MPP or FOLDER:MPP:ENCODING")
    spec = {"path": parts[0], "mpp": float(parts[1])}
    if len(parts) == 3:
        spec["mask"] = {"encoding": parts[2]}
    return spec


def _add_train(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train or fine-tune a model from a YAML config")
    parser.add_argument("--config", type=Path, required=True, help="e.g. training/configs/hinet-tiny-cpu.yaml")
    parser.add_argument("--output", type=Path, default=None, help="run folder (default: the config's)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    parser.add_argument("--json", action="store_true", help="one JSON object per event on stdout")
    parser.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from napari_histoseg.training.run import run_training
    from napari_histoseg.training.run_config import read_run_config

    config = read_run_config(args.config).with_overrides(epochs=args.epochs, device=args.device)
    if args.output is not None:
        config = replace(config, output=args.output.resolve())
    for event in run_training(config):
        print(json.dumps(event_record(event)) if args.json else describe_event(event), flush=True)
    return 0


def event_record(event) -> dict:
    """A JSON-able dict with a "type" key for one run event."""
    from napari_histoseg.training.loop import EpochStats
    from napari_histoseg.training.run import RunFinished, RunStarted

    if isinstance(event, EpochStats):
        return {"type": "epoch", **event.as_dict()}
    if isinstance(event, RunStarted):
        return {"type": "started", **asdict(event)}
    if isinstance(event, RunFinished):
        return {"type": "finished", "checkpoint": str(event.checkpoint), "best_epoch": event.best_epoch,
                "test": event.test.as_metrics() if event.test else None}
    raise TypeError(f"unknown event {event!r}")


def describe_event(event) -> str:
    """One human line for one run event."""
    from napari_histoseg.training.evaluate import format_table
    from napari_histoseg.training.loop import EpochStats
    from napari_histoseg.training.run import RunFinished, RunStarted

    if isinstance(event, RunStarted):
        resumed = f", resuming after epoch {event.resumed_from_epoch}" if event.resumed_from_epoch else ""
        return f"{event.train_patches} training and {event.val_patches} validation patches{resumed}"
    if isinstance(event, EpochStats):
        val = f", val MIoU {event.val.miou:.3f}, Dice {event.val.dice[-1]:.3f}" if event.val else ""
        best = " (best)" if event.improved else ""
        return (f"epoch {event.epoch}: loss {event.train_loss:.4f}{val}, lr {event.learning_rate:.2e}, "
                f"{event.seconds:.0f} s{best}")
    if isinstance(event, RunFinished):
        table = f"\n{format_table(event.test)}" if event.test else ""
        return f"best checkpoint (epoch {event.best_epoch}): {event.checkpoint}{table}"
    raise TypeError(f"unknown event {event!r}")


def _add_evaluate(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="score a checkpoint on held-out data (papers' table)")
    parser.add_argument("--model", type=Path, required=True, help="a .safetensors checkpoint")
    parser.add_argument("--data", type=Path, required=True,
                        help="a built dataset folder, or a folder of images/ and masks/ (give --mpp)")
    parser.add_argument("--split", default="test", help="train, val, test or all (built datasets)")
    parser.add_argument("--mpp", type=float, default=None, help="µm/px of a raw image/mask folder")
    parser.add_argument("--mask-encoding", default="grey", help="grey or any_channel (raw folders)")
    parser.add_argument("--csv", type=Path, default=None, help="also write the table as CSV")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--flips", type=int, choices=sorted(VIEWS), default=None,
                        help="flipped views averaged per image (default: the model card's, as "
                             "`histoseg segment` runs it)")
    parser.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from napari_histoseg.training.evaluate import evaluate_checkpoint, format_table, write_csv

    source = None
    if not (args.data / "manifest.json").is_file():
        if args.mpp is None:
            print(f"histoseg evaluate: error: {args.data} is not a built dataset; give --mpp to "
                  "evaluate a folder of images/ and masks/", file=sys.stderr)
            return 2
        source = {"mpp": args.mpp, "mask": {"encoding": args.mask_encoding}}
    evaluation = evaluate_checkpoint(args.model, args.data, args.split, source, args.device,
                                     args.flips)
    print(format_table(evaluation))
    if args.csv:
        print(f"wrote {write_csv(evaluation, args.csv)}")
    return 0
