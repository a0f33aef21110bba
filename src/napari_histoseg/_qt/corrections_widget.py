"""The Corrections dock: edit the tumour mask at any zoom, commit or discard, list corrections.

"Edit this view" (or Shift+E) copies the mask under the view into an editable
Labels layer (:mod:`._qt.edit_layer`); napari's paint, fill, erase, polygon and
undo work on it. "Commit" records the edit and writes it into every level of the
mask pyramid (:func:`napari_histoseg.io.edit_commit.commit_edit`, in a worker
thread), then refreshes the mask layer; "Discard" drops it. Moving the view's
centre out of the edited window with uncommitted changes asks, commits or
discards, as "When leaving an edit" says. A timer autosaves uncommitted changes
to the workspace's recovery file, which the dock offers to restore when the
slide is opened again. The list below shows the slide's corrections.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QMessageBox,
                            QPushButton, QVBoxLayout, QWidget)

from napari_histoseg._qt.corrections_list import CorrectionsList
from napari_histoseg._qt.edit_layer import (EditTarget, add_edit_layer, edit_of, edit_target,
                                            remove_edit_layer, view_centre_in,
                                            window_centre_world)
from napari_histoseg._qt.edit_tasks import (EditInProgress, commit_in_worker, delete_in_worker,
                                            end_drafts, he_under, save_draft_in_worker)
from napari_histoseg.io.edit_commit import corrections_of, load_draft
from napari_histoseg.io.errors import FileError
from napari_histoseg.io.mask_edit import EditWindow, read_window, window_for_box

if TYPE_CHECKING:
    import napari

LEAVE_ASK, LEAVE_COMMIT, LEAVE_DISCARD = "Ask", "Commit", "Discard"
AUTOSAVE_MS = 20_000
EDIT_KEY = "Shift-E"


class CorrectionsWidget(QWidget):
    """Edit this view, Commit, Discard, the leaving rule, and the list of corrections."""

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.editing: EditInProgress | None = None
        self.worker = None
        self._asking = self._keep_outside = False
        self._build()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        camera = self.viewer.scene.camera
        self._hooks = [(camera.events.center, self._on_view_moved),
                       (camera.events.zoom, self._on_view_moved)]
        self._hooks += [(emitter, self.show_slide) for emitter in (
            self.viewer.layers.events.inserted, self.viewer.layers.events.removed,
            self.viewer.layers.selection.events.active)]
        for emitter, callback in self._hooks:
            emitter.connect(callback)
        self.viewer.bind_key(EDIT_KEY, lambda _viewer: self.edit_view(), overwrite=True)
        self.show_slide()

    def _build(self) -> None:
        self.edit_button = QPushButton("Edit this view (Shift+E)")
        self.edit_button.setToolTip("Copy the mask under the view into an editable layer")
        self.edit_button.clicked.connect(self.edit_view)
        self.commit_button = QPushButton("Commit")
        self.commit_button.clicked.connect(self.commit)
        self.discard_button = QPushButton("Discard")
        self.discard_button.clicked.connect(self.discard)
        self.restore_button = QPushButton("Restore unsaved edit")
        self.restore_button.clicked.connect(self.restore_draft)
        self.leave_box = QComboBox()
        self.leave_box.addItems([LEAVE_ASK, LEAVE_COMMIT, LEAVE_DISCARD])
        self.leave_box.setToolTip("What happens to uncommitted changes when the view moves away")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.corrections = CorrectionsList(self.jump_to, self.delete)
        buttons = QHBoxLayout()
        for button in (self.commit_button, self.discard_button):
            buttons.addWidget(button)
        form = QFormLayout()
        form.addRow("When leaving an edit:", self.leave_box)
        layout = QVBoxLayout(self)
        for item in (self.edit_button, buttons, self.restore_button, form, self.status,
                     self.corrections):
            (layout.addLayout if isinstance(item, QHBoxLayout | QFormLayout)
             else layout.addWidget)(item)
        self._set_editing(False)

    # --- editing ------------------------------------------------------------------------
    def edit_view(self) -> None:
        """Start editing the mask under the current view."""
        if self.editing is not None:
            self._say("Commit or discard the edit in progress first.")
            return
        try:
            target = edit_target(self.viewer)
            window = window_for_box(target.store, target.view_box())
        except FileError as err:
            self._say(str(err))
            return
        self._begin(target, window, read_window(target.store, window))

    def restore_draft(self) -> None:
        """Reopen the autosaved uncommitted edit of this slide as the edit in progress."""
        try:
            target = edit_target(self.viewer)
            draft = load_draft(target.workspace, target.store)
        except FileError as err:
            self._say(str(err))
            return
        if draft is None or self.editing is not None:
            return
        self._begin(target, draft.window, draft.labels, draft.image, draft.slide_sha256)
        self.editing.start = read_window(target.store, draft.window)
        self._centre_on(target, draft.window)
        self._say("Restored the unsaved edit: commit or discard it.")

    def _begin(self, target: EditTarget, window: EditWindow, labels: np.ndarray,
               image: np.ndarray | None = None, slide_sha256: str = "") -> None:
        layer = add_edit_layer(self.viewer, target, window, labels.copy())
        self.editing = EditInProgress(target, window, layer, labels.copy(), image, slide_sha256)
        self._keep_outside = False
        self._set_editing(True)
        self.autosave_timer.start()
        h, w = window.size
        self._say(f"Editing {w:,} x {h:,} mask px: paint, fill or erase in 'Mask edit' "
                  "(label 1 = tumour, 0 = non-tumour), then Commit.")
        if image is None:
            from napari.qt.threading import create_worker

            self._image_worker = create_worker(he_under, self.editing, _ignore_errors=True)
            self._image_worker.returned.connect(self._on_image)
            self._image_worker.start()

    def _on_image(self, result) -> None:
        editing, image, sha = result
        if editing is self.editing:
            editing.image, editing.slide_sha256 = image, sha

    def commit(self) -> None:
        """Record the edit and write it into the mask pyramid (in a worker thread)."""
        if self.editing is None or self._busy():
            return
        editing = self.editing
        self._say("Committing…")
        self._set_editing(True, busy=True)
        self._in_worker(commit_in_worker, self._on_committed, editing,
                        np.asarray(editing.layer.data, dtype=np.uint8).copy())

    def _on_committed(self, result) -> None:
        editing, record_id, changed = result
        self._end(editing)
        editing.target.mask_layer.refresh()
        self.show_slide()
        self._say(f"Committed: {changed:,} mask px changed (record {record_id}).")

    def discard(self) -> None:
        """Drop the edit in progress and its autosave."""
        if self.editing is None or self._busy():
            return
        editing = self.editing
        end_drafts(editing)
        self._end(editing)
        self.show_slide()
        self._say("Edit discarded.")

    def autosave(self) -> None:
        """Write uncommitted changes to the recovery file (in a worker thread), if they
        changed since the last autosave."""
        editing = self.editing
        if editing is None or self._busy() or editing.image is None or not editing.changed:
            return
        if editing.saved is not None and np.array_equal(editing.saved, editing.layer.data):
            return
        edit = edit_of(editing.target, editing.window, editing.layer, editing.image,
                       editing.slide_sha256)
        editing.saved = edit.labels
        from napari.qt.threading import create_worker

        self._autosave_worker = create_worker(save_draft_in_worker, editing, edit,
                                              _ignore_errors=True)
        self._autosave_worker.errored.connect(self._on_error)
        self._autosave_worker.start()

    def _end(self, editing: EditInProgress) -> None:
        remove_edit_layer(self.viewer, editing.target, editing.layer)
        if editing is self.editing:
            self.editing = None
        self.autosave_timer.stop()
        self._set_editing(False)

    # --- leaving the edited area --------------------------------------------------------
    def _on_view_moved(self, event=None) -> None:
        editing = self.editing
        if editing is None or self._asking or self._busy():
            return
        if view_centre_in(editing.target, editing.window, self.viewer.scene.camera.center):
            self._keep_outside = False
            return
        if self._keep_outside or not editing.changed:
            return
        choice = self.leave_box.currentText()
        if choice == LEAVE_COMMIT:
            self.commit()
        elif choice == LEAVE_DISCARD:
            self.discard()
        else:
            self._asking = True
            QTimer.singleShot(0, self._ask)

    def _ask(self) -> None:
        try:
            answer = QMessageBox.question(
                self, "Uncommitted edit", "The view left the edited area. Commit the edit?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard
                | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes)
        finally:
            self._asking = False
        if answer == QMessageBox.StandardButton.Yes:
            self.commit()
        elif answer == QMessageBox.StandardButton.Discard:
            self.discard()
        else:
            self._keep_outside = True

    # --- the list -----------------------------------------------------------------------
    def show_slide(self, event=None) -> None:
        """List the current slide's corrections; offer an autosaved edit for restoring."""
        try:
            target = edit_target(self.viewer)
            entries = corrections_of(target.workspace).entries()
            draft = target.workspace.root / "corrections" / "recovery.npz"
        except FileError:
            self.corrections.show_entries([])
            self.restore_button.setVisible(False)
            return
        self.corrections.show_entries(entries)
        self.restore_button.setVisible(draft.is_file() and self.editing is None)

    def jump_to(self, entry: dict) -> None:
        """Centre the view on a correction and zoom to show it whole."""
        try:
            target = edit_target(self.viewer)
        except FileError as err:
            self._say(str(err))
            return
        window = EditWindow.from_level0(entry["location"], entry["shape"],
                                        target.store.spec.grid.downsample)
        self._centre_on(target, window)

    def delete(self, record_id: str) -> None:
        """Delete a correction; the model's pixels come back under it (in a worker thread)."""
        if self.editing is not None or self._busy():
            self._say("Commit or discard the edit in progress first.")
            return
        try:
            target = edit_target(self.viewer)
        except FileError as err:
            self._say(str(err))
            return
        self._say("Deleting…")
        self._in_worker(delete_in_worker, self._on_deleted, target, record_id)

    def _on_deleted(self, target: EditTarget) -> None:
        target.mask_layer.refresh()
        self.show_slide()
        self._say("Correction deleted; the model's pixels are back.")

    # --- helpers ------------------------------------------------------------------------
    def _centre_on(self, target: EditTarget, window: EditWindow) -> None:
        camera = self.viewer.scene.camera
        size_um = np.asarray(window.size) * np.asarray(target.store.scale)
        camera.center = window_centre_world(target, window)
        camera.zoom = 0.9 * float(np.min(np.asarray(self.viewer.canvas.size) / size_um))

    def _in_worker(self, function, on_done, *args) -> None:
        from napari.qt.threading import create_worker

        self.worker = create_worker(function, *args, _ignore_errors=True)
        self.worker.returned.connect(on_done)
        self.worker.errored.connect(self._on_error)
        self.worker.start()

    def _on_error(self, error: Exception) -> None:
        self._set_editing(self.editing is not None)
        self._say(f"Failed: {error}")

    def _busy(self) -> bool:
        return self.worker is not None and self.worker.is_running

    def _set_editing(self, editing: bool, busy: bool = False) -> None:
        self.edit_button.setEnabled(not editing)
        self.commit_button.setEnabled(editing and not busy)
        self.discard_button.setEnabled(editing and not busy)

    def _say(self, message: str) -> None:
        self.status.setText(message)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the autosave timer and disconnect from the viewer."""
        self.autosave_timer.stop()
        with contextlib.suppress(KeyError, ValueError):
            self.viewer.bind_key(EDIT_KEY, None)
        for emitter, callback in self._hooks:
            emitter.disconnect(callback)
        self._hooks = []
