"""The Segment dock's results folder (read-only slide folders) and its behaviour when closed.

Tests run as root, where chmod does not stop writes, so a read-only slide folder is
simulated by making the workspace's "can I write here" check answer False for it.
"""

from __future__ import annotations

import pytest

from napari_histoseg.io import workspace as workspace_module
from tests._qt.conftest import RUN_TIMEOUT_MS


@pytest.fixture
def read_only_slide_folder(pyramid_tiff, tmp_path, monkeypatch):
    """The slide's folder cannot be written; per-user data goes to tmp_path/data."""
    real = workspace_module.folder_writable
    monkeypatch.setattr(workspace_module, "folder_writable",
                        lambda folder: folder != pyramid_tiff.parent and real(folder))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return pyramid_tiff


def test_read_only_slide_folder_stores_results_per_user_and_shows_where(
        qtbot, read_only_slide_folder, dock, tmp_path):
    slide = read_only_slide_folder
    dock.show_results_folder()
    shown = dock.folder_label.text()
    assert shown.startswith(str(tmp_path / "data" / "napari-histoseg" / "workspaces"))
    dock.start()
    qtbot.waitUntil(dock.segment_button.isEnabled, timeout=RUN_TIMEOUT_MS)
    assert dock.status.text().startswith("Done"), dock.status.text()
    assert not (slide.parent / (slide.name + ".histoseg")).exists()
    from napari_histoseg.io.workspace import Workspace

    found = Workspace.find(slide)
    assert str(found.root) == shown and found.results().done_tiles().any()


def test_chosen_results_folder_is_used(qtbot, dock, tmp_path):
    dock.choose_results_folder(tmp_path / "elsewhere")
    assert dock.folder_label.text() == str(tmp_path / "elsewhere")
    dock.start()
    qtbot.waitUntil(dock.segment_button.isEnabled, timeout=RUN_TIMEOUT_MS)
    assert (tmp_path / "elsewhere" / "results.zarr" / "zarr.json").is_file()


def test_closing_the_dock_stops_its_run_and_disconnects(qtbot, dock):
    camera = dock.viewer.scene.camera.events
    before = [cb[0]() if isinstance(cb, tuple) and callable(cb[0]) else None
              for cb in camera.center.callbacks]
    assert dock in before  # the check below can see the dock's hooks
    dock.batch_box.setValue(1)
    dock.start()
    qtbot.waitUntil(lambda: dock.progress.value() >= 1, timeout=RUN_TIMEOUT_MS)
    dock.close()
    assert not dock.worker.is_running
    callbacks = [*camera.center.callbacks, *camera.zoom.callbacks,
                 *dock.viewer.layers.events.inserted.callbacks]
    owners = [cb[0]() if isinstance(cb, tuple) and callable(cb[0]) else
              getattr(cb, "__self__", None) for cb in callbacks]  # napari keeps weakrefs
    assert dock not in owners
