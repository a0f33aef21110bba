"""``histoseg demo``: the sample slide in napari with the plugin's docks.

With a display, napari stays open. Without one (a server, CI), the demo starts
a virtual X display, writes a screenshot of the whole window and exits.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

PLUGIN = "napari-histoseg"
DOCKS = ("Slide",)
WINDOW_SIZE = (1600, 1000)


def run_demo(slide_path: Path, screenshot: Path) -> int:
    """Open ``slide_path`` with the plugin's reader and docks; return an exit code."""
    headless = not os.environ.get("DISPLAY") and sys.platform.startswith("linux")
    with _virtual_display(headless):
        import napari

        viewer = napari.Viewer(show=True, title="napari-histoseg demo")
        viewer.window.resize(*WINDOW_SIZE)
        viewer.open(str(slide_path), plugin=PLUGIN)
        for dock in DOCKS:
            viewer.window.add_plugin_dock_widget(PLUGIN, dock)
        viewer.scale_bar.visible = True
        if not headless:
            napari.run()
            return 0
        _settle()
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        viewer.screenshot(str(screenshot), canvas_only=False, flash=False)
        viewer.close()
    print(f"No display: wrote a screenshot of the demo to {screenshot}")
    return 0


def _settle(rounds: int = 20) -> None:
    """Let Qt lay out the docks and napari load the visible tiles."""
    import time

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
