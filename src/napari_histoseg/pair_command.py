"""``histoseg pair HE CK56``: register a CK5/6 slide onto an H&E and keep the pairing in its workspace."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_pair_command(subparsers) -> argparse.ArgumentParser:
    """Register ``pair`` on an argparse ``subparsers`` object."""
    parser = subparsers.add_parser(
        "pair", help="register a CK5/6 slide onto an H&E (saved in the H&E's workspace) and "
                     "compute its edge map")
    parser.add_argument("he", type=Path, help="the H&E slide")
    parser.add_argument("ck56", type=Path, help="the CK5/6 slide cut beside it")
    parser.add_argument("--out", type=Path, default=None,
                        help="the H&E's workspace folder (default: <slide>.histoseg beside it)")
    parser.add_argument("--no-edges", action="store_true", help="register only")
    parser.add_argument("--nudge", type=float, nargs=3, metavar=("DY_UM", "DX_UM", "DEGREES"),
                        default=None, help="move the CK5/6 overlay by DY, DX µm and turn it "
                                           "about the slide's centre, after registering")
    parser.set_defaults(func=run_pair)
    return parser


def run_pair(args: argparse.Namespace) -> int:
    """0 when the registration is good, 1 when it is saved but flagged poor."""
    from tqdm import tqdm

    from napari_histoseg.edges import edge_pyramid
    from napari_histoseg.io.slide import open_slide
    from napari_histoseg.io.workspace import Workspace
    from napari_histoseg.pairing import pair_slides, renudge
    from napari_histoseg.registered import RegisteredSlide

    he, ck56 = open_slide(args.he), open_slide(args.ck56)
    workspace = Workspace.open(args.he, args.out)
    with tqdm(total=100, unit="%", desc=f"pairing {ck56.path.name}") as bar:
        steps = pair_slides(he, ck56, workspace.root, edges=not args.no_edges and args.nudge is None)
        try:
            while True:
                _, fraction = next(steps)
                bar.update(round(100 * fraction) - bar.n)
        except StopIteration as done:
            pairing = done.value
    if args.nudge is not None:
        pairing = renudge(workspace.root, pairing, he, *args.nudge)
        if not args.no_edges:
            for _ in edge_pyramid(RegisteredSlide(he, ck56, pairing.registration), workspace.root):
                pass
    print(pairing.registration.summary())
    print(f"pairing saved in {workspace.root}")
    if not pairing.registration.ok:
        print(f"histoseg pair: warning: {ck56.path}: the registration is poor; look at the overlay "
              "in napari and nudge it (--nudge or the Slide dock), or check that this CK5/6 "
              "section comes from the same block", file=sys.stderr)
        return 1
    return 0
