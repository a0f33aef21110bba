"""The ``histoseg`` command line: the same generators the widgets use, with a progress bar."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from napari_histoseg.explain.command import add_explain_command
from napari_histoseg.inference.segment_command import add_segment_command
from napari_histoseg.io.annotation_files import add_export_command, add_import_command
from napari_histoseg.io.errors import SlideError
from napari_histoseg.io.synthetic.command import add_synth_command
from napari_histoseg.models.catalog import add_models_command
from napari_histoseg.pair_command import add_pair_command
from napari_histoseg.report.command import add_report_command
from napari_histoseg.training.commands import add_training_commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="histoseg", description="Whole-slide tumour segmentation for napari.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_info_command(subparsers)
    add_models_command(subparsers)
    add_synth_command(subparsers)
    add_segment_command(subparsers)
    add_explain_command(subparsers)
    add_pair_command(subparsers)
    add_training_commands(subparsers)
    add_export_command(subparsers)
    add_import_command(subparsers)
    add_report_command(subparsers)
    _add_demo_command(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; known failures print a one-line error and return 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (SlideError, FileNotFoundError, ValueError) as err:
        print(f"histoseg {args.command}: error: {err}", file=sys.stderr)
        return 2


def _add_info_command(subparsers) -> None:
    parser = subparsers.add_parser("info", help="describe a slide: levels, mpp, vendor")
    parser.add_argument("slide", type=Path)
    parser.set_defaults(func=_info)


def _info(args: argparse.Namespace) -> int:
    from napari_histoseg.io.slide import describe_slide, open_slide

    slide = open_slide(args.slide)
    width = max(len(label) for label, _ in describe_slide(slide))
    for label, value in describe_slide(slide):
        print(f"{label:<{width}}  {value}")
    return 0


def _add_demo_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="segment the sample slide with the bundled model in napari")
    parser.add_argument("--slide", type=Path, default=None,
                        help="slide to open instead of the bundled sample")
    parser.add_argument("--screenshot", type=Path, default=Path("out/demo.png"),
                        help="where to write the screenshot when there is no display")
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from napari_histoseg._qt.demo import run_demo

    return run_demo(slide_path=args.slide, screenshot=args.screenshot)


if __name__ == "__main__":
    sys.exit(main())
