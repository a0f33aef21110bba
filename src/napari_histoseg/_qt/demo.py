"""``histoseg demo``: the sample slide, segmented by the bundled model, in napari.

It opens the synthetic sample H&E (generated once into the cache), or the slide
given, with the plugin's Slide and Segment docks, chooses the shipped model for
it (the tiny synthetic HI-Net for synthetic slides, the real-tissue starter
model for others) and starts segmenting the whole slide. With a display, napari stays open. Without one (a
server, CI), the demo runs on a virtual X display, waits for the run to end,
writes a screenshot of the whole window and exits.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from napari_histoseg.inference.model_choice import default_model
from napari_histoseg.io.slide import open_slide

PLUGIN = "napari-histoseg"
WINDOW_SIZE = (1600, 1000)
RUN_TIMEOUT_S = 900


def run_demo(slide_path: Path | None, screenshot: Path) -> int:
    """Open and segment the sample (or ``slide_path``); return an exit code."""
    headless = not os.environ.get("DISPLAY") and sys.platform.startswith("linux")
    if slide_path is None:
        from napari_histoseg._sample_data import sample_pair

        print("Preparing the synthetic sample slide (generated once, then cached)…")
        slide_path = sample_pair().he_path
    with _virtual_display(headless):
        import napari

        viewer = napari.Viewer(show=True, title="napari-histoseg demo")
        viewer.window.resize(*WINDOW_SIZE)
        viewer.open(str(slide_path), plugin=PLUGIN)
        viewer.window.add_plugin_dock_widget(PLUGIN, "Slide")
        _, segment_dock = viewer.window.add_plugin_dock_widget(PLUGIN, "Segment")
        viewer.scale_bar.visible = True
        model = default_model(open_slide(slide_path))
        if model.is_file():
            segment_dock.select_model(model)
        segment_dock.restart_box.setChecked(True)    # results of an older version are replaced
        segment_dock.start()
        if not headless:
            napari.run()
            return 0
        finished = _wait_for(segment_dock.segment_button.isEnabled, RUN_TIMEOUT_S)
        _settle()
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        viewer.screenshot(str(screenshot), canvas_only=False, flash=False)
        print(segment_dock.status.text())
        viewer.close()
    print(f"No display: wrote a screenshot of the demo to {screenshot}")
    return 0 if finished else 1


def _wait_for(condition, timeout_s: float) -> bool:
    """Run the Qt event loop until ``condition()`` holds or ``timeout_s`` passes."""
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        QApplication.processEvents()
        time.sleep(0.02)
    return True


def _settle(rounds: int = 30) -> None:
    """Let Qt lay out the docks and napari load the visible tiles."""
    from qtpy.QtWidgets import QApplication

    for _ in range(rounds):
        QApplication.processEvents()
        time.sleep(0.05)


@contextmanager
def _virtual_display(needed: bool):
    """An Xvfb display for the duration of the block, when ``needed``."""
    if not needed:
        yield
        return
    from pyvirtualdisplay import Display

    display = Display(visible=False, size=WINDOW_SIZE, color_depth=24)
    display.start()
    try:
        yield
    finally:
        display.stop()
