"""The Corrections dock on a segmented slide: edit this view, paint, undo, commit, reopen."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtWidgets import QMessageBox

from napari_histoseg._qt.corrections_widget import LEAVE_ASK, LEAVE_COMMIT, CorrectionsWidget
from napari_histoseg._qt.segment_widget import VISIBLE_ONLY
from napari_histoseg.io.blend import labels_of, pool_2x2
from napari_histoseg.io.corrections import CorrectionStore
from napari_histoseg.io.results import ResultStore
from napari_histoseg.io.workspace import Workspace
from tests._qt.conftest import run_to_end

EDIT_TIMEOUT_MS = 30_000
pytestmark = pytest.mark.slow  # each segments the view with a tiny model first: 10-25 s


@pytest.fixture
def segmented(qtbot, dock):
    """The sample slide, zoomed in, its view segmented by the tiny model; a Corrections dock."""
    viewer = dock.viewer
    viewer.scene.camera.center = (400.0, 500.0)      # µm; the slide is 768 x 1024 µm
    viewer.scene.camera.zoom = 2.0
    viewer.layers["slide.tif"].refresh()
    dock.scope_box.setCurrentText(VISIBLE_ONLY)
    dock.start()
    run_to_end(qtbot, dock)
    corrections = CorrectionsWidget(viewer)
    yield viewer, corrections
    corrections.shutdown()


def store_of(viewer) -> ResultStore:
    return ResultStore.open(viewer.layers["Tumour mask"].metadata["histoseg_result"])


def stroke(layer, row: int, columns, label: int) -> None:
    """One brush stroke through napari's own paint API: one undo step."""
    with layer.block_history():
        for column in columns:
            layer.paint((row, column), label, refresh=False)
    layer.refresh()


def wait_committed(qtbot, corrections) -> None:
    qtbot.waitUntil(lambda: corrections.editing is None and not corrections._busy(),
                    timeout=EDIT_TIMEOUT_MS)


def test_edit_paint_undo_paint_commit_and_reopen(qtbot, segmented, make_napari_viewer,
                                                 pyramid_tiff):
    viewer, corrections = segmented
    mask_layer = viewer.layers["Tumour mask"]
    corrections.edit_view()
    edit = viewer.layers["Mask edit"]
    window = corrections.editing.window
    assert 0 < window.size[0] < 768 and 0 < window.size[1] < 1024       # the view, not the slide
    assert tuple(edit.scale) == tuple(mask_layer.scale) and edit.multiscale is False
    np.testing.assert_allclose(edit.data_to_world((3, 4)),
                               mask_layer.data_to_world(np.add(window.location, (3, 4))))
    assert not mask_layer.visible
    model = np.array(edit.data)
    row = window.size[0] // 2
    label = 1 - int(np.bincount(model[row - 8:row + 8].ravel(), minlength=2)[:2].argmax())
    stroke(edit, row, range(5, window.size[1] - 5, 3), label)             # brush 10 px
    assert (edit.data != model).any()
    edit.undo()
    np.testing.assert_array_equal(edit.data, model)
    edit.brush_size = 16
    stroke(edit, row, range(5, window.size[1] - 5, 3), label)
    painted = np.array(edit.data)
    assert (painted[row - 6:row + 6, 12:-12] == label).all()
    corrections.commit()
    wait_committed(qtbot, corrections)

    store = store_of(viewer)
    (y0, x0), (h, w) = window.location, window.size
    np.testing.assert_array_equal(store.mask_levels()[0][y0:y0 + h, x0:x0 + w], painted)
    level1 = np.asarray(store.mask_levels()[1][...])
    expected = labels_of(pool_2x2(store.probability_levels()[0][...]))
    np.testing.assert_array_equal(level1, expected)
    assert (level1[(y0 + row) // 2 - 2:(y0 + row) // 2 + 2, (x0 + 20) // 2:(x0 + w - 20) // 2]
            == label).all()
    records = CorrectionStore(store.path.parent / "corrections")
    (record_id,) = records.ids()
    record = records.load(record_id)
    np.testing.assert_array_equal(record.after, painted)
    np.testing.assert_array_equal(record.before, model)
    assert record.image.shape == (h, w, 3) and record.image.std() > 0
    assert "Mask edit" not in [layer.name for layer in viewer.layers] and mask_layer.visible
    np.testing.assert_array_equal(np.asarray(mask_layer.data[0][y0 + row, x0:x0 + w]),
                                  painted[row])
    assert corrections.corrections.summary.text().startswith("1 correction,")

    reopened = make_napari_viewer()
    reopened.open(str(pyramid_tiff), plugin="napari-histoseg")
    np.testing.assert_array_equal(
        np.asarray(reopened.layers["Tumour mask"].data[0][y0:y0 + h, x0:x0 + w]), painted)
    listed = CorrectionsWidget(reopened)
    assert listed.corrections.table.rowCount() == 1
    listed.shutdown()


def test_moving_away_asks_or_commits_as_the_setting_says(qtbot, segmented, monkeypatch):
    viewer, corrections = segmented
    camera = viewer.scene.camera
    home = tuple(camera.center)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args[2])
                        or QMessageBox.StandardButton.Discard)
    for setting in (LEAVE_ASK, LEAVE_COMMIT):
        corrections.leave_box.setCurrentText(setting)
        camera.center = home
        corrections.edit_view()
        edit = viewer.layers["Mask edit"]
        stroke(edit, 10, range(5, 60, 3), 1 - int(edit.data[10, 30]))
        camera.center = (2000.0, 3000.0)                              # far off the edit
        wait_committed(qtbot, corrections)
    assert len(asked) == 1 and "left the edited area" in asked[0]
    assert len(CorrectionStore(store_of(viewer).path.parent / "corrections").ids()) == 1


def test_an_autosaved_edit_is_offered_after_a_crash(qtbot, segmented, make_napari_viewer,
                                                    pyramid_tiff):
    viewer, corrections = segmented
    corrections.edit_view()
    edit = viewer.layers["Mask edit"]
    stroke(edit, 12, range(5, 80, 3), 1 - int(edit.data[12, 40]))
    painted = np.array(edit.data)
    qtbot.waitUntil(lambda: corrections.editing.image is not None, timeout=EDIT_TIMEOUT_MS)
    corrections.autosave()
    recovery = store_of(viewer).path.parent / "corrections" / "recovery.npz"
    qtbot.waitUntil(recovery.is_file, timeout=EDIT_TIMEOUT_MS)
    corrections.shutdown()                                   # the session dies uncommitted

    reopened = make_napari_viewer()
    reopened.open(str(pyramid_tiff), plugin="napari-histoseg")
    again = CorrectionsWidget(reopened)
    assert again.restore_button.isVisibleTo(again)
    again.restore_draft()
    np.testing.assert_array_equal(reopened.layers["Mask edit"].data, painted)
    again.commit()
    wait_committed(qtbot, again)
    workspace = Workspace(store_of(reopened).path.parent, None)
    assert len(CorrectionStore(workspace.root / "corrections").ids()) == 1
    assert not (workspace.root / "corrections" / "recovery.npz").exists()
    again.shutdown()


def test_deleting_a_correction_brings_the_models_pixels_back(qtbot, segmented):
    viewer, corrections = segmented
    corrections.edit_view()
    edit = viewer.layers["Mask edit"]
    model = np.array(edit.data)
    stroke(edit, 15, range(5, 90, 3), 1 - int(model[15, 40]))
    window = corrections.editing.window
    corrections.commit()
    wait_committed(qtbot, corrections)
    viewer.scene.camera.center = (0.0, 0.0)
    corrections.jump_to(corrections.corrections.selected())
    np.testing.assert_allclose(viewer.scene.camera.center[-2:],
                               viewer.layers["Tumour mask"].data_to_world(
                                   np.add(window.location, np.divide(window.size, 2) - 0.5)))
    corrections.delete(corrections.corrections.selected()["record_id"])
    qtbot.waitUntil(lambda: corrections.corrections.table.rowCount() == 0,
                    timeout=EDIT_TIMEOUT_MS)
    (y0, x0), (h, w) = window.location, window.size
    mask = viewer.layers["Tumour mask"]
    np.testing.assert_array_equal(np.asarray(mask.data[0][y0:y0 + h, x0:x0 + w]), model)
    assert corrections.status.text().startswith("Correction deleted")
