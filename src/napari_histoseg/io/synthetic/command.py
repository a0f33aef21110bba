"""`histoseg synth OUT_DIR`: write a synthetic pair and print the paths."""

from __future__ import annotations

import argparse
import time


def add_synth_command(subparsers) -> None:
    """Register ``synth`` on an argparse subparsers object."""
    parser = subparsers.add_parser(
        "synth", help="write a synthetic H&E + CK5/6 pair with ground-truth labels")
    parser.add_argument("out_dir", help="folder to write he.tif, ck56.tif, labels.tif, tumour.tif, pair.json")
    parser.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=(4096, 4096),
                        help="level-0 size in pixels (default 4096 4096)")
    parser.add_argument("--mpp", type=float, default=0.5, help="level-0 µm per pixel (default 0.5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tile-size", type=int, default=512)
    parser.add_argument("--stain-variation", type=float, default=0.1)
    parser.add_argument("--jpeg-quality", type=int, default=85)
    parser.add_argument("--blur", type=float, default=0.0, help="Gaussian sigma in level-0 pixels")
    parser.add_argument("--folds", type=int, default=1)
    parser.set_defaults(func=_synth)


def _synth(args: argparse.Namespace) -> int:
    from napari_histoseg.io.synthetic.config import SynthConfig
    from napari_histoseg.io.synthetic.pair import FILE_NAMES, generate_pair

    try:
        config = SynthConfig(size=tuple(args.size), mpp=args.mpp, seed=args.seed,
                             tile_size=args.tile_size, stain_variation=args.stain_variation,
                             jpeg_quality=args.jpeg_quality, blur=args.blur, folds=args.folds)
    except ValueError as err:
        print(f"histoseg synth: {err}")
        return 2
    start = time.perf_counter()
    pair = generate_pair(args.out_dir, config)
    for path in (pair.he_path, pair.ck56_path, pair.labels_path, pair.tumour_path,
                 pair.he_path.parent / FILE_NAMES["sidecar"]):
        print(path)
    print(f"# {config.size[0]} x {config.size[1]} px at {config.mpp} µm/px, seed {config.seed}, "
          f"{time.perf_counter() - start:.1f} s")
    return 0
