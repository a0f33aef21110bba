"""``histoseg explain SLIDE``: heatmap, key regions and review queue, with progress bars (tqdm)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_explain_command(subparsers) -> argparse.ArgumentParser:
    """Register ``explain`` on an argparse ``subparsers`` object."""
    parser = subparsers.add_parser(
        "explain", help="Grad-CAM heatmap, key regions and review queue into the workspace")
    parser.add_argument("slide", type=Path)
    parser.add_argument("--model", default=None,
                        help="a checkpoint (.safetensors) or model name; default: the shipped "
                             "model for the slide (as for `histoseg segment`)")
    parser.add_argument("--out", type=Path, default=None,
                        help="workspace folder (default: <slide>.histoseg beside the slide)")
    parser.add_argument("--target-class", default=None,
                        help="class name or index to explain (default: the last, e.g. tumour)")
    parser.add_argument("--layer", default=None,
                        help="module path to hook (default: HI-Net p2, fusion target bottleneck)")
    parser.add_argument("--region", choices=("predicted", "tile"), default="predicted",
                        help="sum the class logits over its predicted pixels, or the whole tile")
    parser.add_argument("--window", type=int, default=128,
                        help="key-region side in px at the analysis resolution")
    parser.add_argument("--regions", type=int, default=10, help="most key regions to keep")
    parser.add_argument("--queue", type=int, default=20, help="most tiles in the review queue")
    parser.add_argument("--mpp", type=float, default=None,
                        help="µm/px to analyse at (default: the segmentation's, else the "
                             "checkpoint's)")
    parser.add_argument("--slide-mpp", type=float, default=None,
                        help="level-0 µm/px for slides whose file does not state it")
    parser.add_argument("--tile-size", type=int, default=None,
                        help="model input side in px (default: the segmentation's, else the "
                             "checkpoint's)")
    parser.add_argument("--halo", type=int, default=None,
                        help="overlap per tile side in px (default: the segmentation's, else 64)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--restart", action="store_true",
                        help="discard results of a different model or grid in the workspace")
    parser.add_argument("--csv", type=Path, default=None, help="also export the key regions here")
    parser.add_argument("--geojson", type=Path, default=None,
                        help="also export the key regions and the queue here")
    parser.set_defaults(func=run_explain_command)
    return parser


def run_explain_command(args: argparse.Namespace) -> int:
    """Run the explanation with one progress bar per stage; 0 on success, 130 if interrupted."""
    from napari_histoseg.explain.run import ExplainRequest, prepare_explain, run_explain
    from napari_histoseg.inference.session import SegmentRequest

    segment = SegmentRequest(slide_path=args.slide, model=args.model, mpp=args.mpp,
                             slide_mpp=args.slide_mpp, tile_size=args.tile_size, halo=args.halo,
                             batch_size=args.batch_size, device=args.device, out_dir=args.out,
                             restart=args.restart)
    request = ExplainRequest(segment, target_class=args.target_class, layer=args.layer,
                             region=args.region, window=args.window, max_regions=args.regions,
                             queue_length=args.queue)
    prepared = prepare_explain(request)
    run = run_explain(prepared)
    try:
        summary = _drive(run)
    except KeyboardInterrupt:
        run.close()
        print(f"\ninterrupted; finished tiles are kept in {prepared.run.workspace.root}. "
              "Run the same command again to resume.", file=sys.stderr)
        return 130
    _print_summary(summary, prepared.run.workspace.root)
    _export(args, summary, prepared.run.plan.store.spec.slide_mpp)
    return 0


def _drive(run):
    """Consume the run, one tqdm bar per tiled stage; return its summary."""
    from tqdm import tqdm

    from napari_histoseg.explain.run import Phase
    from napari_histoseg.inference.events import BatchSizeReduced, Progress

    bar = None
    try:
        while True:
            try:
                event = next(run)
            except StopIteration as stop:
                return stop.value
            if isinstance(event, Phase):
                if bar is not None:
                    bar.close()
                bar = tqdm(total=event.total, unit="tile", desc=event.name) if event.total else None
            elif isinstance(event, Progress) and bar is not None:
                bar.update(event.done - bar.n)
            elif isinstance(event, BatchSizeReduced) and bar is not None:
                bar.write(f"WARNING: {event.message}")
    finally:
        if bar is not None:
            bar.close()


def _print_summary(summary, root: Path) -> None:
    heat = summary.heatmap
    print(f"heatmap: {heat.tiles_computed} tiles computed ({heat.tiles_already_done} already "
          f"done) in {heat.elapsed_s:.1f} s on {heat.device}; results in {root}")
    for region in summary.key_regions[:5]:
        y0, x0, y1, x1 = region.box
        print(f"key region {region.rank + 1}: score {region.score:.3f} at level-0 "
              f"(y {y0:.0f}-{y1:.0f}, x {x0:.0f}-{x1:.0f})")
    print(f"{len(summary.key_regions)} key regions and {len(summary.queue)} review tiles "
          f"saved in {root / 'explain.json'}")


def _export(args, summary, slide_mpp) -> None:
    from napari_histoseg.explain.region_files import export_regions

    if args.csv:
        print(f"key regions written to {export_regions(summary.key_regions, args.csv, slide_mpp)}")
    if args.geojson:
        path = export_regions([*summary.key_regions, *summary.queue], args.geojson, slide_mpp)
        print(f"key regions and review queue written to {path}")
