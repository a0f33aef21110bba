"""``histoseg segment SLIDE``: the segmentation generator behind a tqdm progress bar."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from napari_histoseg.inference.batch.command import (add_batch_arguments, batch_template,
                                                     is_batch, run_batch_command)
from napari_histoseg.inference.flip_views import VIEWS


def add_segment_command(subparsers) -> argparse.ArgumentParser:
    """Register ``segment`` on an argparse ``subparsers`` object."""
    parser = subparsers.add_parser(
        "segment", help="segment a whole slide into the slide's workspace (resumable)")
    parser.add_argument("slide", type=Path, nargs="*",
                        help="a slide file; several slides or a folder run as a batch")
    parser.add_argument("--model", default=None,
                        help="a checkpoint (.safetensors, with its .json beside it) or a model "
                             "name (random weights: for trying the pipeline only); default: the "
                             "shipped real-tissue model, or the synthetic one for synthetic slides")
    parser.add_argument("--out", type=Path, default=None,
                        help="workspace folder (default: <slide>.histoseg beside the slide); with "
                             "several slides, the folder that holds their workspaces")
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
    parser.add_argument("--flips", type=int, choices=sorted(VIEWS), default=None,
                        help="flipped views averaged per tile (default: the model card's; "
                             "1 is fastest)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--restart", action="store_true",
                        help="discard results of a different model or grid in the workspace")
    parser.add_argument("--ck56", action="store_true",
                        help="run the edge-guided fusion network on the H&E and the CK5/6 slide "
                             "paired with it (`histoseg pair`); default model: the shipped fusion one")
    parser.add_argument("--export-ome", type=Path, default=None,
                        help="also write the mask as a pyramidal OME-TIFF here")
    add_batch_arguments(parser)
    parser.set_defaults(func=run_segment)
    return parser


def run_segment(args: argparse.Namespace) -> int:
    """Plan, segment with a progress bar, optionally export; 0 on success, 130 if interrupted."""
    from tqdm import tqdm

    from napari_histoseg.inference.engine import BatchSizeReduced, Progress
    from napari_histoseg.inference.session import SegmentRequest, prepare_run, start_run

    if is_batch(args) or not args.slide:
        return run_batch_command(args, batch_template(args, SegmentRequest))
    request = SegmentRequest(
        slide_path=args.slide[0], model=args.model, level=args.level, mpp=args.mpp,
        slide_mpp=args.slide_mpp, tile_size=args.tile_size, halo=args.halo,
        batch_size=args.batch_size, device=args.device, out_dir=args.out, restart=args.restart,
        ck56=args.ck56, flips=args.flips)
    prepared = prepare_run(request)
    slide, plan, workspace = prepared.slide, prepared.plan, prepared.workspace
    run = start_run(prepared)
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
    if summary.skipped_note:
        print(summary.skipped_note, file=sys.stderr)
    if not summary.cancelled:
        _model_edges(prepared)
    if args.export_ome:
        from napari_histoseg.io.export import export_mask_ome_tiff

        print(f"mask written to {export_mask_ome_tiff(plan.store, args.export_ome)}")
    return 0


def _model_edges(prepared) -> None:
    """After a fusion run on a pair: the network's CK5/6 edge map into the workspace."""
    from tqdm import tqdm

    from napari_histoseg.inference.model_edges import prepared_model_edges

    steps = prepared_model_edges(prepared)
    if steps is None:
        return
    with tqdm(total=100, unit="%", desc="CK5/6 edges (model)") as bar:
        try:
            while True:
                bar.update(int(next(steps) * 100) - bar.n)
        except StopIteration as done:
            print(f"model edge map written to {done.value.path}")


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
