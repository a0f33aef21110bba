"""docs/real_model_test_split.png: image | truth | prediction for every test image of the recipe.

Rebuilds the test split of training/configs/real-tissue.yaml (the same seeded draw as
training) and runs the shipped real-tissue model on each image.

Run:  .venv/bin/python docs/make_real_model_figure.py [--out docs/real_model_test_split.png]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from napari_histoseg.inference.flip_views import views_of  # noqa: E402
from napari_histoseg.models.catalog import REAL_TISSUE_CHECKPOINT  # noqa: E402
from napari_histoseg.models.registry import load_checkpoint  # noqa: E402
from napari_histoseg.training.build_dataset import BuildParams, build_dataset  # noqa: E402
from napari_histoseg.training.evaluate import predict_labels  # noqa: E402
from napari_histoseg.training.metrics import confusion_matrix, scores  # noqa: E402
from napari_histoseg.training.patch_dataset import PatchDataset  # noqa: E402
from napari_histoseg.training.run_config import read_run_config  # noqa: E402
from napari_histoseg.training.sources import source_from_dict  # noqa: E402

RECIPE = Path(__file__).resolve().parents[1] / "training" / "configs" / "real-tissue.yaml"
TUMOUR_RGBA = np.array([1.0, 0.16, 0.16, 0.45])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "real_model_test_split.png")
    args = parser.parse_args()
    config = read_run_config(RECIPE)
    loaded = load_checkpoint(REAL_TISSUE_CHECKPOINT)
    with tempfile.TemporaryDirectory() as folder:
        build_dataset([source_from_dict(s) for s in config.build["sources"]], folder,
                      BuildParams(**config.build["params"]), only_splits=("test",))
        data = PatchDataset(folder, "test", loaded.config.normalisation)
        rows = [(entry, *data.pair(i)) for i, entry in enumerate(data.entries)]
        figure = Figure(figsize=(9, 3 * len(rows)), dpi=80)
        for row, (entry, image, truth) in enumerate(rows):
            prediction = predict_labels(loaded, image, views_of(loaded.config.card))
            dice = scores(confusion_matrix(truth, prediction, 2, 255)).dice[1]
            for column, (title, mask) in enumerate((("image", None), ("truth", truth),
                                                    (f"prediction (Dice {dice:.2f})", prediction))):
                axes = figure.add_subplot(len(rows), 3, row * 3 + column + 1)
                axes.imshow(image)
                if mask is not None:
                    axes.imshow(np.where((mask == 1)[..., None], TUMOUR_RGBA, 0))
                axes.set_title(f"{entry.group}: {title}" if column == 0 else title, fontsize=9)
                axes.axis("off")
        figure.tight_layout()
        figure.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
