"""The Retrain dock in a napari viewer: a real child training process on a tiny dataset."""

from __future__ import annotations

from pathlib import Path

import os
import time

import pytest
from qtpy.QtCore import QTimer

from napari_histoseg._qt.retrain_widget import RetrainWidget
from napari_histoseg.models.catalog import checkpoint_folders, find_checkpoints
from tests.training_data import build_blob_dataset

CHILD_TIMEOUT_MS = 120_000      # a loaded 2-core machine starts torch slowly


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return build_blob_dataset(tmp_path_factory.mktemp("retrain-dock") / "dataset")


@pytest.fixture
def dock(make_napari_viewer, dataset):
    widget = RetrainWidget(make_napari_viewer())
    widget.data_edit.setText(str(dataset))
    yield widget
    widget.process.kill()


@pytest.fixture
def ticks():
    """Times at which a 20 ms QTimer fired: the event loop's pulse."""
    times: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: times.append(time.perf_counter()))
    timer.start()
    yield times
    timer.stop()


def assert_never_stalled(times: list[float]) -> None:
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) > 20
    assert max(gaps) < 1.0, f"the GUI stalled for {max(gaps):.2f} s"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_curves_update_then_cancel_kills_the_child_and_the_gui_stays_live(qtbot, dock, ticks):
    dock.epochs_box.setValue(200)
    dock.start()
    assert dock.process.running() and not dock.train_button.isEnabled()
    pid = dock.process.pid()
    qtbot.waitUntil(lambda: dock.plot.points() >= 1, timeout=CHILD_TIMEOUT_MS)
    assert "Epoch 1 of 200" in dock.status.text() and "left" in dock.status.text()
    dock.cancel()
    qtbot.waitUntil(lambda: not dock.process.running(), timeout=10_000)
    assert not pid_alive(pid)
    assert dock.status.text().startswith("Cancelled after") and dock.train_button.isEnabled()
    assert dock.table.rowCount() == 0 and not dock.adopt_button.isEnabled()
    assert_never_stalled(ticks)


@pytest.mark.slow
def test_a_short_run_is_compared_adopted_and_rolled_back(qtbot, dock, ticks):
    dock.epochs_box.setValue(2)
    dock.start()
    qtbot.waitUntil(dock.adopt_button.isEnabled, timeout=CHILD_TIMEOUT_MS)
    assert dock.plot.points() == 2
    assert [dock.table.item(row, 0).text() for row in range(dock.table.rowCount())] == [
        "MIoU", "Accuracy", "Dice non-tumour", "Dice tumour"]
    assert dock.table.item(0, 1).text() != "–"                   # the base model was scored too
    base = Path(dock.base_box.currentData()).stem                # the first shipped checkpoint
    assert dock.models_label.text() == f"Old: {base}\nNew: {dock.run.name}"
    assert "held-out test tiles" in dock.verdict.text()
    dock.adopt()
    adopted = dock.library.active("hinet")
    assert adopted == dock.new_entry and adopted.name == dock.run.name
    assert find_checkpoints(checkpoint_folders())[0].path == adopted.path   # the Segment dock's first
    assert dock.active_label.text() == f"Active model: {adopted.name}"
    assert dock.base_box.currentText() == f"{adopted.name} (active)"
    dock.rollback()
    assert dock.library.active("hinet") is None
    assert dock.active_label.text() == "Active model: bundled default"
    assert_never_stalled(ticks)


def test_a_folder_that_is_not_a_dataset_is_reported_in_the_dock(dock, tmp_path):
    dock.data_edit.setText(str(tmp_path / "holiday-photos"))
    dock.start()
    assert not dock.process.running() and dock.train_button.isEnabled()
    assert "holiday-photos" in dock.status.text() and "not a built dataset" in dock.status.text()


@pytest.mark.slow
def test_a_child_that_fails_is_reported_in_the_dock_without_a_traceback(qtbot, dock, tmp_path):
    base = tmp_path / "broken.safetensors"
    base.write_bytes(b"not safetensors")
    base.with_suffix(".json").write_text('{"architecture": "hinet", "hyperparameters": {"size": "tiny"},'
                                         ' "class_names": ["a", "b"], "class_colors": ["#000000", "#ffffff"]}')
    dock.base_box.addItem("broken", str(base))
    dock.base_box.setCurrentIndex(dock.base_box.count() - 1)
    dock.start()
    qtbot.waitUntil(dock.train_button.isEnabled, timeout=CHILD_TIMEOUT_MS)
    text = dock.status.text()
    assert text.startswith("Training failed:") and "broken.safetensors" in text
    assert "Traceback" not in text


def test_only_hinet_checkpoints_are_offered_as_base_models(dock):
    """The retrain job trains HI-Net; the shipped fusion checkpoint cannot be its base."""
    from napari_histoseg.models.catalog import FUSION_CHECKPOINT, REAL_TISSUE_CHECKPOINT

    offered = {dock.base_box.itemData(i) for i in range(dock.base_box.count())}
    assert str(REAL_TISSUE_CHECKPOINT) in offered
    assert str(FUSION_CHECKPOINT) not in offered
