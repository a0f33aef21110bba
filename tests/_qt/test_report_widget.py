"""The Report dock: numbers and lesions of the open slide, click to zoom, CSV and HTML."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg._qt.report_widget import ReportWidget, camera_for
from napari_histoseg.io.workspace import Workspace

from ..conftest import tissue_like_rgb, write_pyramid_tiff
from ..report_data import disc, write_results


@pytest.fixture
def segmented_slide(tmp_path):
    """A 1024² slide at 0.5 µm/px whose results (1 µm/px) hold two lesions."""
    slide = write_pyramid_tiff(tmp_path / "case.tif", tissue_like_rgb((1024, 1024)), mpp=0.5,
                               levels=2, tile=256, compression="zlib")
    mask = np.zeros((512, 512), np.uint8)
    mask[disc(mask.shape, (150, 380), 60)] = 1          # 120 µm: lesion 1
    mask[400:410, 100:140] = 1                           # 40 x 10 µm: lesion 2
    write_results(Workspace.open(slide).root, mask, mpp=0.5, downsample=2.0)
    return slide


@pytest.fixture
def report_dock(make_napari_viewer, segmented_slide, qtbot):
    viewer = make_napari_viewer()
    viewer.open(str(segmented_slide), plugin="napari-histoseg")
    dock = ReportWidget(viewer)
    dock.make_report()
    qtbot.waitUntil(lambda: dock.report is not None, timeout=30_000)
    return dock


def test_the_dock_shows_the_numbers_and_lesions_longest_first(report_dock):
    dock = report_dock
    assert dock.table.rowCount() == 2
    assert [dock.table.item(r, 0).text() for r in range(2)] == ["1", "2"]
    diameter_mm = float(dock.table.item(0, 1).text())
    assert abs(diameter_mm - 0.120) <= 0.0015             # within one 1 µm pixel
    labels = [dock.numbers.itemAt(i, dock.numbers.ItemRole.FieldRole).widget().text()
              for i in range(dock.numbers.rowCount())]
    assert "isolated tumour cells" in labels
    assert dock.csv_button.isEnabled() and dock.html_button.isEnabled()


def test_clicking_a_row_centres_the_view_on_that_lesion(report_dock, qtbot):
    dock = report_dock
    dock.table.cellClicked.emit(1, 0)
    y, x = dock.viewer.scene.camera.center[-2:]
    assert (y, x) == pytest.approx((405 * 2 * 0.5 - 0.25, 120 * 2 * 0.5 - 0.25), abs=0.5)
    zoom_small = dock.viewer.scene.camera.zoom
    dock.table.cellClicked.emit(0, 0)
    assert dock.viewer.scene.camera.center[-2:] == pytest.approx((150 - 0.25, 380 - 0.25), abs=0.5)
    assert dock.viewer.scene.camera.zoom < zoom_small              # the larger lesion, less zoom


def test_exports_write_csv_and_html(report_dock, tmp_path, qtbot):
    summary, lesions = report_dock.export_csv(tmp_path / "out.csv")
    assert "isolated tumour cells" in summary.read_text() and lesions.exists()
    worker = report_dock.export_html(tmp_path / "out.html")
    qtbot.waitUntil(lambda: (tmp_path / "out.html").exists(), timeout=30_000)
    qtbot.waitUntil(lambda: not worker.is_running, timeout=10_000)
    assert "data:image/png;base64," in (tmp_path / "out.html").read_text()


def test_without_a_slide_the_dock_says_what_to_do(make_napari_viewer):
    dock = ReportWidget(make_napari_viewer())
    dock.make_report()
    assert "No slide is open" in dock.status.text() and not dock.csv_button.isEnabled()


def test_a_slide_without_results_is_reported_as_such(make_napari_viewer, tmp_path, qtbot):
    slide = write_pyramid_tiff(tmp_path / "bare.tif", tissue_like_rgb((256, 256)), levels=1,
                               tile=128, compression="zlib")
    viewer = make_napari_viewer()
    viewer.open(str(slide), plugin="napari-histoseg")
    dock = ReportWidget(viewer)
    dock.make_report()
    qtbot.waitUntil(lambda: "No report" in dock.status.text(), timeout=30_000)
    assert "segment it first" in dock.status.text()


def test_camera_zooms_so_the_box_fills_half_the_canvas():
    from napari_histoseg.report.slide_report import Lesion

    lesion = Lesion(rank=1, area_mm2=0.0, diameter_um=0.0, centroid=(100.5, 200.5),
                    box=(50, 100, 150, 300), class_mm2={})
    centre, zoom = camera_for(lesion, (0.5, 0.5), (600, 800))
    assert centre == (50.0, 100.0) and zoom == pytest.approx(0.5 * min(600 / 50, 800 / 100))
