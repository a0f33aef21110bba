"""``histoseg segment SLIDE``: the segmentation generator behind a tqdm progress bar.

The lead wires it into ``cli.py`` with ``add_segment_command(subparsers)``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_COLORS = ("#000000", "#ff0000", "#00c000", "#0060ff", "#ffa000", "#c000c0")


def add_segment_command(subparsers) -> argparse.ArgumentParser:
    """Register ``segment`` on an argparse ``subparsers`` object."""
    parser = subparsers.add_parser(
        "segment", help="segment a whole slide into the slide's workspace (resumable)")
    parser.add_argument("slide", type=Path)
    parser.add_argument("--model", default="hinet",
                        help="a checkpoint (.safetensors, with its .json beside it) or a model "
                             "name (random weights: for trying the pipeline only)")
    parser.add_argument("--out", type=Path, default=None,
                        help="workspace folder (default: <slide>.histoseg beside the slide)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--level", type=int, default=None, help="pyramid level to segment at")
    where.add_argument("--mpp", type=float, default=None,
                       help="µm/px to segment at (default: the checkpoint's training mpp)")
    parser.add_argument("--slide-mpp", type=float, default=None,
                        help="level-0 µm/px for slides whose file does not state it")
    parser.add_argument("--tile-size", type=int, default=None,
                        help="model input side in px (default: the checkpoint's, else 512)")
    parser.add_argument("--halo", type=int, default=64, help="overlap per tile side in px")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--restart", action="store_true",
                        help="discard results of a different model or grid in the workspace")
    parser.add_argument("--export-ome", type=Path, default=None,
                        help="also write the mask as a pyramidal OME-TIFF here")
    parser.set_defaults(func=run_segment)
    return parser


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready for the engine, with what the results record about it."""

    model: object
    name: str
    sha256: str
    class_names: tuple[str, ...]
    class_colors: tuple[str, ...]
    normalisation: dict | None
    input_mpp: float | None
    tile_size: int | None


def resolve_model(spec: str, device: str) -> ResolvedModel:
    """A checkpoint file, or a registered model name with random weights (warned loudly)."""
    from napari_histoseg.models import registry

    path = Path(spec)
    if path.suffix == ".safetensors" or path.suffix == ".json" or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such checkpoint file; pass a .safetensors "
                                    "checkpoint or a model name "
                                    f"({', '.join(registry.available_models())})")
        loaded = registry.load_checkpoint(path.with_suffix(".safetensors"), device="cpu")
        config = loaded.config
        return ResolvedModel(loaded.model, path.name, loaded.sha256, tuple(config.class_names),
                             tuple(config.class_colors), config.normalisation,
                             config.input_mpp, config.tile_size)
    model = registry.create_model(spec)
    print(f"WARNING: model {spec!r} has RANDOM, UNTRAINED weights; the mask is meaningless. "
          "Pass a trained checkpoint with --model PATH.safetensors.", file=sys.stderr)
    names = _class_names(model)
    return ResolvedModel(model, spec, "", names, DEFAULT_COLORS[:len(names)], None, None, None)


def _class_names(model) -> tuple[str, ...]:
    """Name the classes of an unconfigured model by running it once on a small input."""
    import torch

    with torch.inference_mode():
        n_classes = model.eval().predict_logits(torch.zeros(1, 3, 64, 64)).shape[1]
    return ("background",) + tuple(f"class {i}" for i in range(1, n_classes))


def run_segment(args: argparse.Namespace) -> int:
    """Plan, segment with a progress bar, optionally export; 0 on success, 130 if interrupted."""
    from tqdm import tqdm

    from napari_histoseg.inference.engine import BatchSizeReduced, Progress, SegmentParams, segment
    from napari_histoseg.inference.plan import GridParams, ModelInfo, plan_run
    from napari_histoseg.io.slide import open_slide
    from napari_histoseg.io.workspace import Workspace

    slide = open_slide(args.slide)
    resolved = resolve_model(args.model, args.device)
    grid = GridParams(level=args.level,
                      mpp=args.mpp if args.level is not None or args.mpp else resolved.input_mpp,
                      tile_size=args.tile_size or resolved.tile_size or 512, halo=args.halo,
                      slide_mpp=args.slide_mpp)
    workspace = Workspace.open(args.slide, args.out)
    info = ModelInfo(resolved.name, resolved.sha256, resolved.class_names, resolved.class_colors)
    plan = plan_run(slide, workspace, grid, info, restart=args.restart)
    if plan.notice:
        print(f"WARNING: {plan.notice}", file=sys.stderr)
    params = SegmentParams(batch_size=args.batch_size, device=args.device,
                           normalisation=resolved.normalisation)
    run = segment(slide, resolved.model, plan, params, run_log=workspace.run_log)
    already = int(plan.store.done_tiles().ravel()[plan.tiles].sum())
    with tqdm(total=len(plan.tiles), initial=already, unit="tile", desc=slide.path.name) as bar:
        try:
            summary = _drive(run, bar, Progress, BatchSizeReduced)
        except KeyboardInterrupt:
            run.close()
            print(f"\ninterrupted; finished tiles are kept in {workspace.root}. "
                  "Run the same command again to resume.", file=sys.stderr)
            return 130
    print(f"{summary.tiles_computed} tiles computed ({summary.tiles_already_done} already done) "
          f"in {summary.elapsed_s:.1f} s on {summary.device}; results in {workspace.root}")
    if args.export_ome:
        from napari_histoseg.io.export import export_mask_ome_tiff

        print(f"mask written to {export_mask_ome_tiff(plan.store, args.export_ome)}")
    return 0


def _drive(run, bar, progress_type, reduced_type):
    """Consume the generator, updating ``bar``; return the run summary."""
    while True:
        try:
            event = next(run)
        except StopIteration as stop:
            return stop.value
        if isinstance(event, progress_type):
            bar.update(event.done - bar.n)
        elif isinstance(event, reduced_type):
            bar.write(f"WARNING: {event.message}")
