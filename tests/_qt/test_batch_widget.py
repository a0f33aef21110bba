"""The Segment dock's Batch panel: a folder of slides sent to a dask scheduler, progress per
slide, a failing slide reported in its row, and the summary CSV beside the slides."""

from __future__ import annotations

import csv

import pytest

pytest.importorskip("distributed")

from distributed import LocalCluster  # noqa: E402

from napari_histoseg._qt.segment_widget import SegmentWidget  # noqa: E402
from tests._qt.conftest import RUN_TIMEOUT_MS  # noqa: E402
from tests.batch_helpers import write_slides  # noqa: E402


@pytest.fixture(scope="module")
def scheduler():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def panel(make_napari_viewer, checkpoint):
    dock = SegmentWidget(make_napari_viewer())
    dock.select_model(checkpoint)
    dock.halo_box.setValue(32)
    dock.device_box.setCurrentText("cpu")
    return dock.open_batch()


def test_batch_panel_segments_a_folder_on_a_scheduler(qtbot, panel, scheduler, tmp_path):
    folder = tmp_path / "cases"
    write_slides(folder, 2, (512, 640))
    (folder / "zz-broken.tif").write_bytes(b"not a slide")
    panel.source_edit.setText(str(folder))
    panel.scheduler_edit.setText(scheduler)
    panel.start()
    assert not panel.start_button.isEnabled()
    qtbot.waitUntil(panel.start_button.isEnabled, timeout=RUN_TIMEOUT_MS)
    statuses = [panel.table.item(row, 2).text() for row in range(3)]
    assert statuses[:2] == ["done", "done"], statuses
    assert statuses[2].startswith("failed: ") and "zz-broken.tif" not in statuses[2]  # the row names it
    assert "zz-broken.tif" in panel.table.item(2, 2).toolTip()
    for row in range(2):
        bar = panel.table.cellWidget(row, 1)
        assert bar.value() == bar.maximum() > 0
    assert "2 of 3 slides done" in panel.status.text()
    rows = list(csv.DictReader((folder / "histoseg-batch-summary.csv").open()))
    assert [r["status"] for r in rows] == ["done", "done", "failed"]
    assert (folder / "case-0.tif.histoseg" / "results.zarr").is_dir()


def test_a_source_that_is_neither_folder_nor_manifest_is_refused(panel, tmp_path):
    panel.source_edit.setText(str(tmp_path / "nothing-here"))
    panel.start()
    assert "nothing-here: choose a folder of slides or a .csv manifest" in panel.status.text()
    assert panel.worker is None and panel.start_button.isEnabled()
