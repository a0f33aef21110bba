"""Make docs/batch_dock.png: the Segment dock's Batch panel after a batch of synthetic slides.

Generates three 2048² synthetic H&E slides (and one broken file) in a temporary folder,
starts a LocalCluster of 2 workers in this process, runs the batch from the panel with the
bundled synthetic model, then opens the first slide, whose workspace the batch filled, so
its mask is restored, and saves a screenshot of the whole window.

Run:  xvfb-run -a .venv/bin/python docs/make_batch_screenshot.py
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "batch_dock.png"
MODEL = HERE.parent / "src" / "napari_histoseg" / "models" / "weights" / "hinet-tiny-synthetic.safetensors"


def make_slides(folder: Path) -> None:
    from napari_histoseg.io.synthetic import SynthConfig, generate_pair

    for seed in range(3):
        pair = folder / f"pair-{seed}"
        generate_pair(pair, SynthConfig(size=(2048, 2048), seed=seed + 11))
        shutil.copy(pair / "he.tif", folder / f"case-{seed + 1:03d}.tif")
        shutil.rmtree(pair)
    (folder / "case-004.tif").write_bytes(b"a scanner export that stopped half way")


def wait(app, done, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.05)


def main() -> None:
    import napari
    from distributed import LocalCluster
    from qtpy.QtWidgets import QApplication

    from napari_histoseg._qt.segment_widget import SegmentWidget

    folder = Path(tempfile.mkdtemp(prefix="histoseg-batch-shot-"))
    make_slides(folder)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      protocol="tcp", dashboard_address=":0") as cluster:
        viewer = napari.Viewer(show=True)
        viewer.window._qt_window.resize(1500, 1000)
        app = QApplication.instance()
        dock = SegmentWidget(viewer)
        viewer.window.add_dock_widget(dock, name="Segment")
        dock.select_model(MODEL)
        dock.device_box.setCurrentText("cpu")
        panel = dock.open_batch()
        panel.source_edit.setText(str(folder))
        panel.scheduler_edit.setText(cluster.scheduler_address)
        panel.start()
        wait(app, panel.start_button.isEnabled, 600)
        viewer.open(str(folder / "case-001.tif"), plugin="napari-histoseg")
        wait(app, lambda: False, 3)
        viewer.screenshot(str(OUT), canvas_only=False)
        print(f"{panel.status.text()}\nwrote {OUT}")
        viewer.close()


if __name__ == "__main__":
    main()
