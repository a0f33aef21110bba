"""Make docs/edit_in_progress.png: a mask edit in progress over a real slide.

Copies the CMU-1 small region (../shared/data, Aperio SVS) to a temporary folder,
segments it with the shipped real-tissue model from the Segment dock, commits one
correction from the Corrections dock, then zooms in, presses "Edit this view" and
erases a swath through a tumour call on fibrous stroma with a 30 px brush through the edit
layer's own paint API, and saves a screenshot of the whole window with the edit not
yet committed.

Run:  xvfb-run -a .venv/bin/python docs/make_edit_screenshot.py [--centre Y X] [--zoom Z]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CMU = HERE.parents[1] / "shared" / "data" / "cmu-1-small-region" / "CMU-1-Small-Region.svs"
OUT = HERE / "edit_in_progress.png"
PLUGIN = "napari-histoseg"


def settle(seconds: float = 1.5) -> None:
    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def wait_for(condition, timeout_s: float = 600) -> None:
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        QApplication.processEvents()
        time.sleep(0.02)


def stroke(layer, points: list[tuple[float, float]], label: int, step: float = 2.0) -> None:
    """Paint a polyline through ``points`` (layer data px) as one undoable stroke."""
    with layer.block_history():
        for (y0, x0), (y1, x1) in zip(points, points[1:]):
            n = max(int(np.hypot(y1 - y0, x1 - x0) / step), 1)
            for t in np.linspace(0, 1, n + 1):
                layer.paint((y0 + t * (y1 - y0), x0 + t * (x1 - x0)), label, refresh=False)
    layer.refresh()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--centre", type=float, nargs=2, default=(640.0, 700.0), help="µm (y, x)")
    parser.add_argument("--zoom", type=float, default=2.2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="edit-shot-"))
    slide = shutil.copy(CMU, folder / CMU.name)

    import napari

    from napari_histoseg._qt.corrections_widget import CorrectionsWidget
    from napari_histoseg.inference.model_choice import default_model
    from napari_histoseg.io.slide import open_slide

    viewer = napari.Viewer(show=True, title="napari-histoseg: correcting the mask")
    viewer.window.resize(1600, 1000)
    viewer.open(str(slide), plugin=PLUGIN)
    _, segment = viewer.window.add_plugin_dock_widget(PLUGIN, "Segment")
    segment.select_model(default_model(open_slide(slide)))
    segment.device_box.setCurrentText("cpu")
    segment.start()
    wait_for(segment.segment_button.isEnabled)
    print(segment.status.text())
    segment.parent().hide()
    corrections = CorrectionsWidget(viewer)
    viewer.window.add_dock_widget(corrections, name="Corrections", area="right")
    viewer.scale_bar.visible = True

    camera = viewer.scene.camera
    camera.center, camera.zoom = (900.0, 400.0), 3.0            # a first, committed fix
    settle()
    corrections.edit_view()
    edit = viewer.layers["Mask edit"]
    edit.brush_size = 24
    stroke(edit, [(40, 40), (120, 160), (200, 180)], 1)
    corrections.commit()
    wait_for(lambda: corrections.editing is None and not corrections._busy())

    camera.center, camera.zoom = tuple(args.centre), args.zoom   # the edit in progress
    settle()
    corrections.edit_view()
    edit = viewer.layers["Mask edit"]
    h, w = edit.data.shape
    edit.brush_size = 30                                  # erase a swath of a false call
    stroke(edit, [(0.70 * h, 0.22 * w), (0.83 * h, 0.30 * w), (0.97 * h, 0.36 * w)], 0)
    edit.mode = "erase"
    settle(3)
    viewer.screenshot(str(OUT), canvas_only=False, flash=False)
    print(f"wrote {OUT}; {corrections.status.text()}")
    viewer.close()


if __name__ == "__main__":
    main()
