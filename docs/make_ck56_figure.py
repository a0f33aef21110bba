"""Make docs/ck56_fusion.png: H&E, registered CK5/6, both CK5/6 edge maps, the fusion mask and the truth.

A synthetic pair (seed 206, unseen in training; its CK5/6 section rotated and
shifted) is opened as a user would: the H&E dropped in, the CK5/6 paired from the
Slide dock (registered in the background, shown through napari's affine, its
classical DAB edges computed), then the Segment dock runs the bundled fusion
checkpoint on the pair (with its 40x detail crops) and adds the network's own edge
map. napari's grid shows the six layers side by side in one camera, so the in-situ
ducts line up across them; the last panel is the generator's truth, for comparison.

Run:  xvfb-run -a .venv/bin/python docs/make_ck56_figure.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import napari
import numpy as np
from qtpy.QtWidgets import QApplication

from napari_histoseg._qt.model_edges_layer import MODEL_EDGES_LAYER
from napari_histoseg._qt.segment_widget import SegmentWidget
from napari_histoseg._qt.slide_widget import SlideWidget
from napari_histoseg.io.labels import open_label_pyramid
from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.models.catalog import FUSION_CHECKPOINT

CONFIG = SynthConfig(size=(4096, 4096), mpp=0.5, seed=206, max_rotation_deg=8.0, max_shift_um=60.0)
OUT = Path(__file__).with_name("ck56_fusion.png")


def wait_until(condition, timeout_s: float = 900.0) -> None:
    start = time.perf_counter()
    while not condition():
        QApplication.processEvents()
        time.sleep(0.05)
        if time.perf_counter() - start > timeout_s:
            raise TimeoutError("the dock did not finish in time")


def add_truth(viewer, pair) -> None:
    """The generator's labels as a Labels pyramid, coloured like the fusion mask."""
    levels = [np.asarray(level) for level in open_label_pyramid(pair.labels_path)]
    mask = viewer.layers["Tumour mask"]
    truth = viewer.add_labels(levels, multiscale=True, name="Truth (synthetic)",
                              scale=(CONFIG.mpp, CONFIG.mpp), units=("µm", "µm"))
    truth.colormap = mask.colormap


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="histoseg-ck56-figure-"))
    pair = generate_pair(folder / "pair", CONFIG)
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1800, 1150)
    slide_dock = SlideWidget(viewer)
    viewer.window.add_dock_widget(slide_dock, name="Slide", area="right")
    viewer.open(str(pair.he_path), plugin="napari-histoseg")
    slide_dock.open_paired_slide(pair.ck56_path)
    wait_until(lambda: not slide_dock.pairing.busy)
    print(slide_dock.pairing.status.text())
    segment_dock = SegmentWidget(viewer)
    viewer.window.add_dock_widget(segment_dock, name="Segment", area="right")
    wait_until(lambda: segment_dock.model_box.count() > 0)
    segment_dock.select_model(FUSION_CHECKPOINT)
    segment_dock.device_box.setCurrentText("cpu")
    segment_dock.segment_button.click()
    wait_until(lambda: segment_dock.segment_button.isEnabled() and segment_dock.last_summary is not None)
    print(segment_dock.status.text())
    wait_until(lambda: MODEL_EDGES_LAYER in [layer.name for layer in viewer.layers])
    add_truth(viewer, pair)
    order = ("he.tif", "CK5/6: ck56.tif", "CK5/6 edges (DAB)", MODEL_EDGES_LAYER, "Tumour mask",
             "Truth (synthetic)")
    for index, name in enumerate(order):
        viewer.layers.move(viewer.layers.index(name), index)
    for layer in viewer.layers:
        layer.opacity = 1.0
        if layer._type_string == "labels":
            layer.opacity = 0.9
    viewer.grid.enabled = True
    viewer.grid.shape = (2, 3)
    viewer.grid.stride = 1
    labels = np.asarray(open_label_pyramid(pair.labels_path)[2])
    centre = np.argwhere(labels == 1).mean(0) * 4 * CONFIG.mpp       # µm, level 2 = 2 µm/px
    viewer.camera.center = tuple(centre)
    viewer.camera.zoom = 0.75
    QApplication.processEvents()
    time.sleep(2.0)
    QApplication.processEvents()
    viewer.screenshot(str(OUT), canvas_only=False)
    print(OUT)
    viewer.close()


if __name__ == "__main__":
    main()
