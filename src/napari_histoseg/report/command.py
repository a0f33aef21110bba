"""``histoseg report SLIDE|WORKSPACE ... [--csv [FILE]] [--lesions-csv FILE] [--html PATH]``.

One path prints its report; several print one block each and, with ``--csv``, make a
batch summary with one row per slide (a slide that fails gets a row with its error and
the others go on; the exit status is then 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from napari_histoseg.io.errors import FileError
from napari_histoseg.report.summary import mm2, summary_items

#: Lesions printed per slide; ``--lesions-csv`` lists all of them.
LISTED_LESIONS = 20


def add_report_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="tumour burden, lesions and CAMELYON17 category of segmented slides")
    parser.add_argument("paths", type=Path, nargs="+", metavar="SLIDE|WORKSPACE",
                        help="slide files (their workspace is found) or workspace folders")
    parser.add_argument("--csv", nargs="?", const="-", default=None, metavar="FILE",
                        help="write the summary, one row per slide, as CSV (to stdout if "
                             "no FILE is given)")
    parser.add_argument("--lesions-csv", type=Path, default=None, metavar="FILE",
                        help="write every lesion of every slide as CSV")
    parser.add_argument("--html", type=Path, default=None, metavar="PATH",
                        help="write the one-page HTML report (a folder for several slides: "
                             "<slide>.report.html in it)")
    parser.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from napari_histoseg.report.slide_report import build_report
    from napari_histoseg.report.tables import csv_text, lesion_rows, summary_row, write_csv

    quiet = args.csv == "-"
    summaries, lesions, failed = [], [], 0
    for path in args.paths:
        try:
            report = build_report(path)
        except FileError as err:
            failed += 1
            print(f"histoseg report: error: {err}", file=sys.stderr)
            summaries.append({"slide": path.name, "error": str(err), "slide_path": str(path)})
            continue
        summaries.append(summary_row(report))
        lesions += lesion_rows(report)
        if not quiet:
            print_report(report)
        if args.html is not None:
            _write_html(report, args.html, several=len(args.paths) > 1)
    if args.csv == "-":
        sys.stdout.write(csv_text(summaries))
    elif args.csv is not None:
        print(f"summary of {len(summaries)} slide(s): {write_csv(args.csv, summaries)}")
    if args.lesions_csv is not None:
        print(f"{len(lesions)} lesion(s): {write_csv(args.lesions_csv, lesions)}",
              file=sys.stderr if quiet else sys.stdout)
    return 2 if failed else 0


def print_report(report) -> None:
    """The summary and the longest lesions as aligned text."""
    items = summary_items(report)
    width = max(len(label) for label, _ in items)
    print(f"== {report.name}")
    for label, value in items:
        print(f"{label:<{width}}  {value}")
    for lesion in report.lesions[:LISTED_LESIONS]:
        print(f"  lesion {lesion.rank:>3}: {lesion.diameter_mm:8.3f} mm  {mm2(lesion.area_mm2):>14}"
              f"  at y {lesion.centroid[0]:.0f}, x {lesion.centroid[1]:.0f} px")
    if len(report.lesions) > LISTED_LESIONS:
        print(f"  ... and {len(report.lesions) - LISTED_LESIONS} smaller (--lesions-csv lists all)")


def _write_html(report, target: Path, several: bool) -> None:
    from napari_histoseg.report.html_page import write_html

    if several or target.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        target = target / f"{report.name}.report.html"
    print(f"report page: {write_html(report, target)}")
