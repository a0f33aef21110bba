"""The bundled fusion checkpoint on an unseen synthetic pair: per-class Dice, with and without CK5/6.

End to end, as a user runs it: the pair is generated (seed 206, never used in
training), the CK5/6 is registered onto the H&E (``histoseg pair``'s generator),
and the whole slide is segmented by the tiled engine at 1 µm/px with the CK5/6
read through the registration (``histoseg segment --ck56``) and the 40x detail
crops read at the key regions. Dice of carcinoma in situ and of invasive carcinoma
against the generator's truth; the baselines, in the same run, are the same
checkpoint on the pair without detail crops, and on the H&E alone.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/fusion.py [--side 4096] [--seed 206] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from napari_histoseg.inference.session import SegmentRequest, prepare_run, resolve_model, start_run
from napari_histoseg.io.labels import open_label_pyramid
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.io.workspace import Workspace
from napari_histoseg.models.catalog import FUSION_CHECKPOINT
from napari_histoseg.pairing import load_pairing, pair_slides, save_pairing
from napari_histoseg.training.metrics import confusion_matrix, scores


def segment_dice(pair, workspace: Path, ck56: bool, detail: bool = True) -> tuple[np.ndarray, float]:
    """(Dice per class, seconds) of the fusion checkpoint on ``pair``'s H&E (+ CK5/6), with
    or without its detail crops."""
    request = SegmentRequest(slide_path=pair.he_path, model=str(FUSION_CHECKPOINT), device="cpu",
                             out_dir=workspace, ck56=ck56, halo=32)
    resolved = resolve_model(str(FUSION_CHECKPOINT))
    if not detail:
        resolved = replace(resolved, card={k: v for k, v in resolved.card.items() if k != "detail_crops"})
    start = time.perf_counter()
    prepared = prepare_run(request, resolved=resolved, warn=lambda message: None)
    for _ in start_run(prepared):
        pass
    seconds = time.perf_counter() - start
    store = prepared.plan.store
    mask = np.asarray(store.mask_levels()[0])
    mask = np.where(mask == store.NOT_COMPUTED, 0, mask)
    level = open_slide(pair.he_path).best_level_for_downsample(store.spec.grid.downsample)
    truth = np.asarray(open_label_pyramid(pair.labels_path)[level])
    return scores(confusion_matrix(truth, mask, n_classes=3)).dice, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=206)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="histoseg-fusion-"))
    pair = generate_pair(workdir / f"pair-{args.seed}", SynthConfig(size=(args.side, args.side), seed=args.seed))
    he, ck56 = open_slide(pair.he_path), open_slide(pair.ck56_path)
    steps = pair_slides(he, ck56, Workspace.open(pair.he_path, workdir / "fused").root, edges=False)
    try:
        while True:
            next(steps)
    except StopIteration as done:
        print(done.value.registration.summary())
    fused_root = Workspace.open(pair.he_path, workdir / "fused").root
    save_pairing(Workspace.open(pair.he_path, workdir / "no-detail").root, load_pairing(fused_root))
    fused, fused_s = segment_dice(pair, workdir / "fused", ck56=True)
    plain, plain_s = segment_dice(pair, workdir / "no-detail", ck56=True, detail=False)
    alone, alone_s = segment_dice(pair, workdir / "alone", ck56=False)
    names = ("carcinoma in situ", "invasive carcinoma")
    print(f"{args.side}² synthetic pair, seed {args.seed} (unseen), checkpoint {FUSION_CHECKPOINT.name}")
    for index, name in enumerate(names, start=1):
        ratio = f"{fused[index] / alone[index]:.2f}" if alone[index] >= 0.01 else "n/a, baseline ~0"
        print(f"  {name}: Dice {fused[index]:.3f} with CK5/6 and detail crops, {plain[index]:.3f} "
              f"without detail crops, {alone[index]:.3f} H&E alone (ratio to H&E alone {ratio})")
    print(f"  segmentation time: {fused_s:.1f} s with CK5/6 and detail crops, {plain_s:.1f} s "
          f"without detail crops, {alone_s:.1f} s H&E alone")


if __name__ == "__main__":
    main()
