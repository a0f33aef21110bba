"""The edit in progress as a napari layer: a single-scale Labels layer exactly over the slide.

napari cannot paint a multiscale Labels layer, so "Edit this view" copies the
mask window under the view (mask level 0, the analysis resolution) into a plain
numpy Labels layer with the mask's µm scale and the window's translate; napari's
own paint, fill, erase, polygon and undo then work on it. The multiscale mask is
hidden while the edit layer is shown (its old pixels would show through where
the edit erased them) and refreshed after a commit.

Numerics live in :mod:`napari_histoseg.io.mask_edit` and
:mod:`napari_histoseg.io.edit_commit`; this module only places layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_histoseg._qt.layers import RESULT_SLIDE_KEY, slide_layer_of, viewport_box
from napari_histoseg._reader import RESULT_KEY
from napari_histoseg.io.edit_commit import Edit
from napari_histoseg.io.mask_edit import EditWindow
from napari_histoseg.io.results import ResultStore, WorkspaceError
from napari_histoseg.io.workspace import Workspace

#: Metadata key marking the edit layer (its value: the result store's path).
EDIT_KEY = "histoseg_edit_of"


@dataclass(frozen=True)
class EditTarget:
    """The slide whose mask is edited: its layers, workspace and result store."""

    slide_layer: object
    mask_layer: object
    workspace: Workspace
    store: ResultStore

    @property
    def slide_path(self) -> str:
        return str(self.slide_layer.metadata["slide_path"])

    def view_box(self):
        """The slide's part on screen: ((y, x), (h, w)) in level-0 slide px."""
        return viewport_box(self.slide_layer)


def edit_target(viewer) -> EditTarget:
    """The current slide and its mask layer. WorkspaceError saying what is missing."""
    slide_layer = slide_layer_of(viewer)
    if slide_layer is None:
        raise WorkspaceError(Path("."), "no slide is open: open a slide first")
    slide_path = str(slide_layer.metadata["slide_path"])
    mask_layer = mask_layer_of(viewer, slide_path)
    if mask_layer is None:
        raise WorkspaceError(Path(slide_path), "has no tumour mask yet: segment it first "
                                               "(Segment dock)")
    store_path = Path(mask_layer.metadata[RESULT_KEY])
    store = ResultStore.open(store_path)
    return EditTarget(slide_layer, mask_layer, Workspace(store_path.parent, Path(slide_path)),
                      store)


def mask_layer_of(viewer, slide_path: str):
    """The multiscale mask layer showing ``slide_path``'s results, or None."""
    for layer in viewer.layers:
        meta = layer.metadata
        if layer._type_string != "labels" or RESULT_KEY not in meta or EDIT_KEY in meta:
            continue
        if meta.get(RESULT_SLIDE_KEY, slide_path) == slide_path and _belongs(meta, slide_path):
            return layer
    return None


def _belongs(meta: dict, slide_path: str) -> bool:
    """Whether a result layer's store is in ``slide_path``'s workspace (reader layers)."""
    if RESULT_SLIDE_KEY in meta:
        return True
    recorded = Workspace.open(Path(meta[RESULT_KEY]).parent).slide_path
    return recorded is None or Path(recorded).resolve() == Path(slide_path).resolve()


def add_edit_layer(viewer, target: EditTarget, window: EditWindow, labels: np.ndarray):
    """Add ``labels`` (a copy of the mask window) as the editable layer, ready to paint."""
    from napari.layers import Labels

    scale = np.asarray(target.store.scale, dtype=float)
    translate = np.asarray(target.store.translate, dtype=float) + np.asarray(window.location) * scale
    layer = Labels(labels, name="Mask edit", scale=tuple(scale), translate=tuple(translate),
                   units=("µm", "µm"), opacity=0.6, colormap=target.mask_layer.colormap,
                   metadata={EDIT_KEY: str(target.store.path)})
    viewer.add_layer(layer)
    target.mask_layer.visible = False
    viewer.layers.selection.active = layer
    layer.selected_label = 1
    layer.brush_size = 10
    layer.mode = "paint"
    return layer


def remove_edit_layer(viewer, target: EditTarget, layer) -> None:
    """Remove the edit layer and show the multiscale mask again."""
    if layer in viewer.layers:
        viewer.layers.remove(layer)
    target.mask_layer.visible = True
    viewer.layers.selection.active = target.slide_layer


def refresh_mask_levels(levels, box: tuple[int, int, int, int]) -> None:
    """Re-read cached display chunks of every level over a changed level-0 ``box``
    (``y0, x0, y1, x1`` in mask px). Levels read straight from zarr need nothing.
    Safe from a worker thread."""
    y0, x0, y1, x1 = box
    for index, level in enumerate(levels):
        if hasattr(level, "refresh"):
            f = 2**index
            level.refresh(slice(y0 // f, -(-y1 // f)), slice(x0 // f, -(-x1 // f)))


def window_centre_world(target: EditTarget, window: EditWindow) -> tuple[float, float]:
    """World (µm) coordinates of the centre of a mask window."""
    (y, x), (h, w) = window.location, window.size
    scale, translate = target.store.scale, target.store.translate
    return ((y + h / 2 - 0.5) * scale[0] + translate[0], (x + w / 2 - 0.5) * scale[1] + translate[1])


def view_centre_in(target: EditTarget, window: EditWindow, centre) -> bool:
    """Whether the camera's ``centre`` (world µm, (y, x) last) lies inside ``window``."""
    scale, translate = target.store.scale, target.store.translate
    cy, cx = ((float(centre[-2 + axis]) - translate[axis]) / scale[axis] + 0.5
              for axis in (0, 1))
    y0, x0, y1, x1 = window.box
    return y0 <= cy < y1 and x0 <= cx < x1


def edit_of(target: EditTarget, window: EditWindow, layer, image: np.ndarray,
            slide_sha256: str) -> Edit:
    """The edit layer's labels as an :class:`~napari_histoseg.io.edit_commit.Edit`."""
    return Edit(window, np.asarray(layer.data, dtype=np.uint8).copy(), image,
                slide=target.slide_path, slide_sha256=slide_sha256)
