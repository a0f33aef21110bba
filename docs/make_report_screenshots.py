"""Make docs/report_dock.png and docs/report_page.png: the Report dock and its HTML page.

Writes a synthetic 6,144² H&E slide (seed 7, 0.5 µm/px) into a temporary folder, segments
it with the bundled tiny HI-Net (`histoseg segment`, CPU), opens it in napari with the
Report dock, makes the report, clicks the first lesion (the view zooms to it) and saves a
screenshot of the window. Then it writes the report's HTML page and renders that very file
with Qt's rich-text engine (a QTextBrowser, which shows the embedded PNG) to a PNG.

Run:  xvfb-run -a .venv/bin/python docs/make_report_screenshots.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODEL = (HERE.parent / "src" / "napari_histoseg" / "models" / "weights"
         / "hinet-tiny-synthetic.safetensors")


def segmented_slide(folder: Path) -> Path:
    from napari_histoseg.cli import main

    assert main(["synth", str(folder), "--size", "6144", "6144", "--seed", "7"]) == 0
    slide = folder / "he.tif"
    assert main(["segment", str(slide), "--model", str(MODEL), "--device", "cpu"]) == 0
    return slide


def wait_for(condition, timeout_s: float = 120.0) -> None:
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the report did not finish")
        QApplication.processEvents()
        time.sleep(0.02)


def dock_screenshot(slide: Path, out: Path) -> Path:
    """The window with the Report dock, after a click on the first lesion."""
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_histoseg._qt.report_widget import ReportWidget

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)
    viewer.open(str(slide), plugin="napari-histoseg")
    dock = ReportWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Report", area="right")
    dock.make_report()
    wait_for(lambda: dock.report is not None)
    for _ in range(20):
        QApplication.processEvents()
    dock.table.selectRow(0)
    dock.zoom_to(0)
    viewer.scene.camera.zoom = viewer.scene.camera.zoom * 0.6   # some tissue around lesion 1
    for _ in range(50):
        QApplication.processEvents()
        time.sleep(0.05)
    viewer.screenshot(str(out), canvas_only=False)
    report = dock.report
    viewer.close()
    return report


def page_screenshot(report, html: Path, out: Path) -> None:
    """Render the written HTML file with a QTextBrowser and save it as a PNG."""
    from qtpy.QtWidgets import QApplication, QTextBrowser

    from napari_histoseg.report.html_page import write_html

    write_html(report, html)
    app = QApplication.instance() or QApplication([])
    browser = QTextBrowser()
    browser.setHtml(html.read_text(encoding="utf-8"))
    browser.resize(1000, 1000)
    browser.show()
    app.processEvents()
    height = int(browser.document().size().height()) + 20
    browser.resize(1000, height)
    app.processEvents()
    browser.grab().save(str(out))
    browser.close()


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="report-shot-"))
    slide = segmented_slide(scratch / "slide")
    report = dock_screenshot(slide, HERE / "report_dock.png")
    page_screenshot(report, scratch / "he.report.html", HERE / "report_page.png")
    print(f"{report.name}: {report.category}, {len(report.lesions)} lesions; "
          f"screenshots in {HERE}")


if __name__ == "__main__":
    main()
