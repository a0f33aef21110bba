"""Recipe: the tiny HI-Net shipped with the package for the demo.

Trains ``create_model("hinet", size="tiny")`` on synthetic slides (the
project's own generator) at 1 µm/px, evaluates it on a held-out synthetic
slide, and writes the checkpoint into ``src/napari_histoseg/models/weights/``.
It is a demo model: it has only seen synthetic tissue.

Run:  .venv/bin/python training/bundled_hinet.py [--steps 400] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from napari_histoseg.io.labels import open_label_pyramid
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.models.catalog import BUNDLED_CHECKPOINT
from napari_histoseg.models.registry import ModelConfig, create_model, save_checkpoint
from napari_histoseg.training.datasets import SlidePatchDataset, plan_patches
from napari_histoseg.training.loop import TrainConfig, evaluate, train

TRAIN_SEEDS = (101, 102, 103)
HELD_OUT_SEED = 105             # a seed whose slide has tumour (not every seed does)
SLIDE_SIZE = (6144, 6144)       # level 0 at 0.5 µm/px: 3 x 3 mm of tissue
LEVEL = 1                        # 1 µm/px, the HI-Net working resolution (4x of 40x, §4.2)
PATCH = 256
NORMALISATION = {"mean": [0.80, 0.62, 0.75], "std": [0.15, 0.20, 0.15]}
CLASSES = (("non-tumour", "#000000"), ("tumour", "#ff2a2a"))


def patch_dataset(seed: int, workdir: Path, augment: bool) -> SlidePatchDataset:
    """Patches of one synthetic slide: all with tumour, plus as many of tumour-free tissue."""
    pair = generate_pair(workdir / f"seed{seed}", SynthConfig(size=SLIDE_SIZE, seed=seed))
    slide = open_slide(pair.he_path)
    labels = open_label_pyramid(pair.tumour_path)
    level_labels = np.asarray(labels[LEVEL])
    candidates = plan_patches(level_labels, LEVEL, PATCH, stride=PATCH // 2,
                              tumour_fraction=(0.0, 0.995))
    tumour = [p for p in candidates if p.tumour_fraction >= 0.05]
    tissue = [p for p in candidates if p.tumour_fraction == 0 and _is_tissue(slide, p)]
    rng = np.random.default_rng(seed)
    negatives = list(rng.permutation(np.array(tissue, dtype=object))[:len(tumour)])
    return SlidePatchDataset(slide, list(labels), tumour + negatives,
                             NORMALISATION["mean"], NORMALISATION["std"], augment=augment,
                             seed=seed)


def _is_tissue(slide, patch) -> bool:
    return slide.read_region(patch.level, patch.location, patch.size).mean() < 215


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "histoseg-train")
    args = parser.parse_args()
    torch.manual_seed(0)
    train_set = torch.utils.data.ConcatDataset(
        [patch_dataset(seed, args.workdir, augment=True) for seed in TRAIN_SEEDS])
    held_out = patch_dataset(HELD_OUT_SEED, args.workdir, augment=False)
    if not len(held_out):
        raise SystemExit(f"held-out seed {HELD_OUT_SEED} gave no tumour patches; pick another")
    print(f"{len(train_set)} training patches, {len(held_out)} held-out patches, {PATCH}² at "
          f"level {LEVEL} (1 µm/px)")
    model = create_model("hinet", size="tiny")
    config = TrainConfig(epochs=args.epochs, batch_size=8, learning_rate=2e-3)
    for stats in train(model, train_set, held_out, config):
        print(f"epoch {stats.epoch}: loss {stats.train_loss:.3f}, held-out MIoU "
              f"{stats.val.miou:.3f}, Dice(tumour) {stats.val.dice[1]:.3f} ({stats.seconds:.0f} s)")
    final = evaluate(model, held_out, 8, torch.device("cpu"))
    provenance = hashlib.sha256(json.dumps(
        {"seeds": TRAIN_SEEDS, "size": SLIDE_SIZE, "level": LEVEL, "patch": PATCH,
         "config": config.__dict__}, sort_keys=True).encode()).hexdigest()[:16]
    model_config = ModelConfig(
        architecture="hinet", hyperparameters={"size": "tiny"},
        class_names=tuple(name for name, _ in CLASSES),
        class_colors=tuple(colour for _, colour in CLASSES),
        input_mpp=1.0, normalisation=NORMALISATION, tile_size=512,
        provenance=f"training/bundled_hinet.py {provenance}; synthetic seeds {TRAIN_SEEDS}; "
                   f"held-out seed {HELD_OUT_SEED}: MIoU {final.miou:.3f}, "
                   f"Dice(tumour) {final.dice[1]:.3f}")
    BUNDLED_CHECKPOINT.parent.mkdir(parents=True, exist_ok=True)
    path = save_checkpoint(model.cpu(), model_config, BUNDLED_CHECKPOINT)
    print(f"wrote {path}: held-out MIoU {final.miou:.3f}, Dice(tumour) {final.dice[1]:.3f}")


if __name__ == "__main__":
    main()
