"""What the Corrections dock does off the GUI thread, and the state of the edit in progress.

The H&E under an edit is read when the edit begins; autosaves, commits and
deletions write the workspace (:mod:`napari_histoseg.io.edit_commit`) and re-reads the mask
layer's cached display chunks it changed, so the GUI thread only redraws.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from napari_histoseg._qt.edit_layer import EditTarget, refresh_mask_levels
from napari_histoseg.io.edit_commit import (Edit, clear_draft, commit_edit, delete_correction,
                                            save_draft, window_of)
from napari_histoseg.io.mask_edit import EditWindow


@dataclass
class EditInProgress:
    """The edit being painted: where, its layer, the mask it started from, the H&E under it."""

    target: EditTarget
    window: EditWindow
    layer: object
    start: np.ndarray
    image: np.ndarray | None = None
    slide_sha256: str = ""
    saved: np.ndarray | None = None
    ended: bool = False
    draft_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def changed(self) -> bool:
        return not np.array_equal(self.layer.data, self.start)



def he_under(editing: EditInProgress):
    """Worker: the H&E under the edit at the mask's resolution, and the slide's identity."""
    from napari_histoseg.io.corrections import he_region
    from napari_histoseg.io.identity import slide_identity
    from napari_histoseg.io.slide import open_slide

    target, window = editing.target, editing.window
    location, size = window.level0(target.store.spec.grid.downsample)
    image = he_region(open_slide(target.slide_path), location, size, window.size)
    return editing, image, slide_identity(target.slide_path)


def commit_in_worker(editing: EditInProgress, labels: np.ndarray):
    """Worker: commit ``labels``, drop the autosave, re-read the mask's display chunks."""
    if editing.image is None:
        _, editing.image, editing.slide_sha256 = he_under(editing)
    target = editing.target
    edit = Edit(editing.window, labels, editing.image, target.slide_path, editing.slide_sha256)
    record_id = commit_edit(target.workspace, target.store, edit)
    end_drafts(editing)
    refresh_mask_levels(target.mask_layer.data, editing.window.box)
    return editing, record_id, int((labels != editing.start).sum())


def save_draft_in_worker(editing: EditInProgress, edit: Edit) -> None:
    """Worker: autosave ``edit`` as the recovery file, unless the edit has ended meanwhile."""
    with editing.draft_lock:
        if not editing.ended:
            save_draft(editing.target.workspace, editing.target.store, edit)


def end_drafts(editing: EditInProgress) -> None:
    """Remove the edit's recovery file; no autosave of it is written after this."""
    with editing.draft_lock:
        editing.ended = True
        clear_draft(editing.target.workspace)


def delete_in_worker(target: EditTarget, record_id: str) -> EditTarget:
    """Worker: delete a record, restore the model's pixels, re-read the display chunks."""
    deleted = delete_correction(target.workspace, target.store, record_id)
    refresh_mask_levels(target.mask_layer.data, window_of(target.store, deleted).box)
    return target
