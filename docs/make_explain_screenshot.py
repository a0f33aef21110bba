"""Make docs/explain.png: the Explain dock over the synthetic sample slide.

Copies the synthetic 4096² H&E sample (generated once into the cache) to a
temporary folder, opens it with the Explain dock, runs the
bundled tiny synthetic HI-Net (segmentation, then the Grad-CAM heatmap at its
default layer p2), centres on the best key region and zooms out to show its
neighbours, and saves a screenshot of the whole window with the heatmap, its
colour bar, the key-region boxes and the review queue.

Run:  xvfb-run -a .venv/bin/python docs/make_explain_screenshot.py [--out docs/explain.png]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def wait_for(condition, timeout_s: float = 900) -> None:
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while not condition():
        QApplication.processEvents()
        time.sleep(0.02)
        if time.monotonic() > deadline:
            raise SystemExit("timed out")


def settle(rounds: int = 40) -> None:
    from qtpy.QtWidgets import QApplication

    for _ in range(rounds):
        QApplication.processEvents()
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=HERE / "explain.png")
    args = parser.parse_args()

    import napari

    from napari_histoseg._qt.explain_widget import ExplainWidget
    from napari_histoseg._sample_data import sample_pair
    from napari_histoseg.inference.model_choice import default_model
    from napari_histoseg.io.slide import open_slide

    folder = Path(tempfile.mkdtemp(prefix="explain-shot-"))
    slide_path = Path(shutil.copy(sample_pair().he_path, folder / "synthetic-he.tif"))
    viewer = napari.Viewer(show=True, title="napari-histoseg: Explain")
    viewer.window.resize(1600, 1000)
    viewer.open(str(slide_path), plugin="napari-histoseg")
    dock = ExplainWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Explain", area="right")
    dock.select_model(default_model(open_slide(slide_path)))
    dock.device_box.setCurrentText("cpu")
    started = time.perf_counter()
    dock.start()
    wait_for(lambda: dock.compute_button.isEnabled() and dock.worker is not None)
    print(f"explained in {time.perf_counter() - started:.0f} s: {dock.status.text()}")
    viewer.scale_bar.visible = True
    dock.go_to("Key regions", 0)  # the best key region, at 40x-equivalent
    viewer.scene.camera.zoom = viewer.scene.camera.zoom / 5  # then out, to see its neighbours
    settle()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(args.out), canvas_only=False, flash=False)
    print(f"wrote {args.out}")
    viewer.close()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
