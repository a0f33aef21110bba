"""``histoseg segment SLIDE... | --manifest slides.csv [--scheduler ADDRESS | --workers N]``.

Several slides (or a folder, a manifest, a scheduler or a worker count) make
``histoseg segment`` a batch on dask.distributed: one tqdm progress bar per
slide, the dashboard's address, a summary CSV, exit status 1 when a slide
failed. One slide alone runs in this process as before.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from napari_histoseg.inference.batch.manifest import BatchItem, items_from_paths, read_manifest

MISSING_EXTRA = ("batch segmentation runs on dask.distributed, which is not installed; "
                 "install the extra: pip install 'napari-histoseg[distributed]'")


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """The batch options of ``histoseg segment``."""
    batch = parser.add_argument_group(
        "batch (several slides on dask.distributed; see docs/distributed.md)")
    batch.add_argument("--manifest", type=Path, default=None,
                       help="CSV with a 'slide' column (and optionally 'out'), one row per slide")
    where = batch.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None,
                       help="address of a running dask scheduler, e.g. tcp://10.0.0.5:8786")
    where.add_argument("--workers", type=int, default=None,
                       help="start a local cluster of N single-threaded workers "
                            "(default: one per core)")
    batch.add_argument("--retries", type=int, default=2,
                       help="extra tries of a slide whose task failed")
    batch.add_argument("--summary", type=Path, default=Path("histoseg-batch-summary.csv"),
                       help="where to write the CSV summary (slide, status, time, error)")


def is_batch(args: argparse.Namespace) -> bool:
    """Whether the parsed ``segment`` arguments ask for a batch."""
    return bool(len(args.slide) > 1 or args.manifest or args.scheduler or args.workers
                or any(Path(s).is_dir() for s in args.slide))


def batch_items(args: argparse.Namespace) -> list[BatchItem]:
    """The slides named by the arguments (paths and folders, then the manifest's rows)."""
    if args.export_ome:
        raise ValueError("--export-ome writes one slide's mask; use it without a batch, or "
                         "run `histoseg export` per slide")
    items = items_from_paths(args.slide, args.out) if args.slide else []
    items += read_manifest(args.manifest) if args.manifest else []
    if not items:
        raise ValueError("name slides, a folder of slides or --manifest slides.csv")
    return items


def run_batch_command(args: argparse.Namespace, template) -> int:
    """Run the batch with a progress bar per slide; 0 when every slide is done, else 1."""
    items = batch_items(args)
    try:
        from napari_histoseg.inference.batch.runner import run_on_cluster
    except ImportError as err:
        raise ValueError(MISSING_EXTRA) from err
    from napari_histoseg.inference.batch.summary import write_summary

    cancel = threading.Event()
    run = run_on_cluster(items, template, args.scheduler, args.workers, retries=args.retries,
                         cancel=cancel)
    outcomes = _show(run, items, cancel)
    path = write_summary(outcomes, args.summary)
    failed = [o for o in outcomes if o.status != "done"]
    for outcome in failed:
        print(f"{outcome.slide}: {outcome.status}: {outcome.error}", file=sys.stderr)
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} slides done; summary in {path}")
    return 1 if failed else 0


def batch_template(args: argparse.Namespace, request_type):
    """The SegmentRequest every slide of the batch shares (slide and out set per slide)."""
    return request_type(slide_path=Path(), model=_absolute_model(args.model), level=args.level,
                        mpp=args.mpp, slide_mpp=args.slide_mpp, tile_size=args.tile_size,
                        halo=args.halo, batch_size=args.batch_size, device=args.device,
                        restart=args.restart, flips=args.flips)


def _show(run, items: list[BatchItem], cancel: threading.Event):
    """Drive the batch generator with one tqdm bar per slide; the outcomes.

    The first Ctrl-C sets ``cancel`` (slides stop after their current batch and keep
    their finished tiles); a second one stops waiting.
    """
    from tqdm import tqdm

    started = next(run)
    print(f"{len(items)} slides on {started.workers} workers ({started.scheduler}); "
          f"dashboard: {started.dashboard}")
    bars = [tqdm(total=None, desc=item.slide.name, unit="tile", position=i, leave=True)
            for i, item in enumerate(items)]
    try:
        while True:
            try:
                event = next(run)
            except StopIteration as stop:
                return stop.value
            except KeyboardInterrupt:
                if cancel.is_set():
                    raise
                cancel.set()
                bars[0].write("interrupted: every slide stops after its current batch and keeps "
                              "its finished tiles; the same command resumes them")
                continue
            _update(bars[event.index], event, items[event.index].slide.name)
    finally:
        for bar in bars:
            bar.close()


def _update(bar, event, name: str) -> None:
    """Show one SlideEvent on the slide's tqdm ``bar``."""
    if event.kind in ("planned", "progress"):
        if bar.total != event.total:
            bar.reset(total=event.total)
        bar.update(event.done - bar.n)
    elif event.kind == "warning":
        bar.write(f"{name}: {event.message}")
    elif event.kind == "finished":
        outcome = event.outcome
        if outcome.status == "done":  # its last progress message may come after this
            total = outcome.tiles_computed + outcome.tiles_already_done
            bar.reset(total=total)
            bar.update(total)
        bar.set_postfix_str(outcome.status if outcome.status == "done"
                            else f"{outcome.status}: {outcome.error}"[:80])


def _absolute_model(model: str | None) -> str | None:
    """A checkpoint path made absolute (workers may run elsewhere); a name as it is."""
    if model and Path(model).exists():
        return str(Path(model).resolve())
    return model

