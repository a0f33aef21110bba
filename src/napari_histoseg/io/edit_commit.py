"""Committing and deleting mask edits of a workspace: the record and the pixels together.

A commit, under the workspace lock (filelock; a running segmentation holds it):

1. reads the model's mask under the window (the ``before`` of the record);
2. appends the :class:`~napari_histoseg.io.corrections.Correction` record
   (atomic: whole or absent) to the workspace's CorrectionStore;
3. writes the changed pixels into mask level 0 and rebuilds every overview
   above them (:func:`napari_histoseg.io.mask_edit.write_labels`).

The record is written first: it is the edit's source of truth. Should the
process die between 2 and 3, :func:`reapply_corrections` writes the pixels of
every record again (the same bytes each time). A resumed segmentation that
recomputes blocks under a record writes its pixels again too
(:func:`reapply_over`, called by the tile writer), so edits outlive later runs. Deleting a record restores the
model's pixels under it (recomputed from the stored tile predictions) with the
remaining records' changes on top, oldest first.

>>> record_id = commit_edit(workspace, store, Edit(window, labels, image))  # doctest: +SKIP
>>> delete_correction(workspace, store, record_id)                          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_histoseg.io.corrections import Correction, CorrectionStore, default_author
from napari_histoseg.io.mask_edit import (EditWindow, check_labels, read_window, restore_model,
                                          write_labels)
from napari_histoseg.io.workspace import workspace_lock


@dataclass(frozen=True, eq=False)
class Edit:
    """An edited window of a slide's mask.

    Attributes:
        window: where, in mask level-0 px.
        labels: (h, w) uint8 edited labels of the whole window.
        image: (h, w, 3) uint8 H&E under the window at the mask's resolution.
        slide: the slide's path; ``slide_sha256`` its identity ("" when unknown).
        author: who edited (the logged-in user by default).
    """

    window: EditWindow
    labels: np.ndarray
    image: np.ndarray
    slide: str
    slide_sha256: str = ""
    author: str = ""

    def correction(self, store, before: np.ndarray) -> Correction:
        """This edit as a correction record of ``store``'s mask, over the model's ``before``."""
        location, size = self.window.level0(store.spec.grid.downsample)
        return Correction(image=self.image, after=self.labels, before=before,
                          location=location, size=size, mpp=store.spec.mpp, slide=self.slide,
                          slide_sha256=self.slide_sha256,
                          model_sha256=store.spec.model_sha256,
                          class_names=tuple(store.spec.class_names),
                          author=self.author or default_author())


def corrections_of(workspace) -> CorrectionStore:
    """The CorrectionStore of a workspace (``<workspace>/corrections``)."""
    return CorrectionStore.for_workspace(workspace)


def commit_edit(workspace, store, edit: Edit) -> str:
    """Record ``edit`` and write it into ``store``'s mask pyramid; its record id.

    Raises:
        WorkspaceBusyError: a segmentation run is writing this workspace.
        WorkspaceError: the labels do not fit the window or are no class of the mask.
    """
    with workspace_lock(Path(workspace.root)):
        before = read_window(store, edit.window)
        check_labels(store, edit.window, edit.labels, before)
        record_id = corrections_of(workspace).commit(edit.correction(store, before))
        write_labels(store, edit.window, edit.labels, edit.labels != before)
    return record_id


def delete_correction(workspace, store, record_id: str) -> Correction:
    """Delete a record and put the model's pixels back under it; returns the record.

    Pixels that later (or earlier) records changed keep those records' labels.
    """
    with workspace_lock(Path(workspace.root)):
        corrections = corrections_of(workspace)
        deleted = corrections.delete(record_id)
        window = window_of(store, deleted)
        restore_model(store, window.box, _overlays(store, corrections, window))
    return deleted


def reapply_corrections(workspace, store) -> int:
    """Write every record's changed pixels into ``store`` again, oldest first; how many.

    For a store whose pixels lag its records (a crash between record and pixels,
    or a segmentation that rewrote blocks under an edit). Idempotent. Records made
    at another resolution or with other classes than the store's mask are left out.
    """
    with workspace_lock(Path(workspace.root)):
        return _reapply(store, corrections_of(workspace), None)


def reapply_over(store, box) -> int:
    """Write again the changed pixels of every record meeting ``box`` (level-0 result px,
    ``y0, x0, y1, x1``), oldest first; how many. Lock-free: for the writer, which holds
    the lock while it recomputes blocks from tile predictions (a resumed run)."""
    root = Path(store.path).parent / "corrections"
    if not (root / "records").is_dir():
        return 0
    return _reapply(store, CorrectionStore(root), box)


def _reapply(store, corrections: CorrectionStore, box) -> int:
    entries = [entry for entry in corrections.entries() if _fits(store, entry)
               and (box is None or _meets(_entry_window(store, entry).box, box))]
    for entry in entries:
        correction = corrections.load(entry["record_id"])
        write_labels(store, window_of(store, correction), correction.after, correction.changed)
    return len(entries)


def _fits(store, entry: dict) -> bool:
    """Whether a record was made on a mask like ``store``'s: the same µm/px and classes.

    A record's labels are class ids of the mask it was painted on; on a mask of
    other classes (a run started over with another model) they would mean other
    things. Records that kept no class names (older ones) are taken as fitting.
    """
    names = tuple(entry.get("class_names") or ())
    return (bool(np.allclose(entry["mpp"], store.spec.mpp, rtol=1e-6))
            and (not names or names == tuple(store.spec.class_names)))


def window_of(store, correction: Correction) -> EditWindow:
    """The mask window of a record of ``store``'s slide."""
    return EditWindow.from_level0(correction.location, correction.after.shape,
                                  store.spec.grid.downsample)


def _overlays(store, corrections: CorrectionStore, window: EditWindow) -> list:
    """``(window, labels, changed)`` of every record meeting ``window``, oldest first."""
    overlays = []
    for entry in corrections.entries():
        other = _entry_window(store, entry)
        if _fits(store, entry) and _meets(other.box, window.box):
            record = corrections.load(entry["record_id"])
            overlays.append((other, record.after, record.changed))
    return overlays


def _entry_window(store, entry: dict) -> EditWindow:
    return EditWindow.from_level0(entry["location"], entry["shape"], store.spec.grid.downsample)


def _meets(a, b) -> bool:
    """Whether boxes ``y0, x0, y1, x1`` overlap."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def save_draft(workspace, store, edit: Edit) -> None:
    """Autosave an uncommitted ``edit`` as the workspace's recovery file (replacing any)."""
    corrections_of(workspace).save_recovery(edit.correction(store, read_window(store, edit.window)))


def load_draft(workspace, store) -> Edit | None:
    """The autosaved uncommitted edit of a workspace, or None when there is none.

    Raises:
        CorrectionError: the recovery file is damaged (it names the file).
    """
    draft = corrections_of(workspace).load_recovery()
    if draft is None:
        return None
    return Edit(window_of(store, draft), draft.after, draft.image, draft.slide,
                draft.slide_sha256, draft.author)


def clear_draft(workspace) -> None:
    """Forget the autosaved edit (after a commit or a discard)."""
    corrections_of(workspace).clear_recovery()
