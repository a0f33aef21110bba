"""Make docs/retrain_dock.png: the Retrain dock after fine-tuning the bundled model on real patches.

Builds a dataset from ../shared/data/camelyon-mini (32 real H&E patches, CC0) in a
temporary folder, fine-tunes the bundled tiny HI-Net for a few epochs from the
dock (a real child process), waits for the old-vs-new comparison and saves a
screenshot of the whole window. The model library and run folders are temporary too.

Run:  xvfb-run -a .venv/bin/python docs/make_retrain_screenshot.py [--epochs 6] [--new]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CAMELYON = HERE.parents[1] / "shared" / "data" / "camelyon-mini"
OUT = HERE / "retrain_dock.png"


def build(folder: Path) -> Path:
    from napari_histoseg.training.build_dataset import BuildParams, build_dataset
    from napari_histoseg.training.sources import source_from_dict

    source = source_from_dict({"name": "camelyon-mini", "path": str(CAMELYON), "mpp": 0.85,
                               "mask": {"encoding": "grey", "threshold": 127}})
    params = BuildParams(mpp=1.0, patch_size=512, tumour_fraction=(0.0, 1.0), stain="reinhard")
    build_dataset([source], folder, params)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--new", action="store_true", help="train a new tiny HI-Net, not fine-tune")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="retrain-shot-"))
    os.environ["HISTOSEG_LIBRARY"] = str(scratch / "library")
    os.environ["HISTOSEG_RUNS"] = str(scratch / "runs")
    dataset = build(scratch / "dataset")

    import napari
    from PIL import Image
    from qtpy.QtWidgets import QApplication

    from napari_histoseg._qt.retrain_widget import RetrainWidget
    from napari_histoseg.training.dataset_format import read_manifest

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1500, 1000)
    test_patch = read_manifest(dataset).split("test")[0]
    viewer.add_image(np.asarray(Image.open(dataset / test_patch.image)), name="held-out patch")
    truth = viewer.add_labels(np.asarray(Image.open(dataset / test_patch.mask)), name="tumour (truth)")
    truth.contour = 3
    dock = RetrainWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Retrain", area="right")
    dock.data_edit.setText(str(dataset))
    if args.new:
        dock.base_box.setCurrentIndex(0)
    dock.epochs_box.setValue(args.epochs)
    started = time.perf_counter()
    dock.start()
    while dock.running() or not dock.adopt_button.isEnabled():
        QApplication.processEvents()
        time.sleep(0.02)
        if not dock.running() and not dock.adopt_button.isEnabled():
            raise SystemExit(f"the run did not finish: {dock.status.text()}")
    print(f"{args.epochs} epochs and the comparison took {time.perf_counter() - started:.0f} s")
    print(dock.verdict.text())
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    Image.fromarray(viewer.screenshot(canvas_only=False, flash=False)).save(OUT)
    print(f"wrote {OUT}")
    viewer.close()


if __name__ == "__main__":
    main()
