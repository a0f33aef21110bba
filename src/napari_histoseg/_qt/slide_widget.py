"""The Slide dock: what the open slide is, and a paired CK5/6 slide beside it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtWidgets import (QFileDialog, QFormLayout, QLabel, QPushButton, QVBoxLayout,
                            QWidget)

from napari_histoseg._qt.layers import PAIRED_ROLE, slide_layer_of
from napari_histoseg._qt.pairing_panel import PairingPanel
from napari_histoseg._reader import slide_layer_data
from napari_histoseg.io.errors import SlideError
from napari_histoseg.io.slide import Slide, describe_slide, open_slide

if TYPE_CHECKING:
    import napari

SLIDE_FILTER = "Slides (*.svs *.ndpi *.tif *.tiff *.mrxs *.scn *.bif *.dcm);;All files (*)"


class SlideWidget(QWidget):
    """Shows dimensions, levels, mpp, vendor and file size of the active slide layer."""

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self._slides: dict[str, Slide] = {}
        self._form = QFormLayout()
        self._status = QLabel("Open or drop a slide (SVS, NDPI, OME-TIFF, tiled TIFF).")
        self._status.setWordWrap(True)
        self.pair_button = QPushButton("Open paired CK5/6 slide…")
        self.pair_button.setToolTip("Open the immunohistochemistry section cut beside this H&E.")
        self.pair_button.clicked.connect(self._choose_paired_slide)
        layout = QVBoxLayout(self)
        layout.addWidget(self._status)
        layout.addLayout(self._form)
        layout.addWidget(self.pair_button)
        self.pairing = PairingPanel(self.viewer)
        self._restored: set[str] = set()
        layout.addWidget(self.pairing)
        layout.addStretch()
        self.viewer.layers.selection.events.active.connect(self.refresh)
        self.viewer.layers.events.inserted.connect(self.refresh)
        self.viewer.layers.events.removed.connect(self.refresh)
        self.refresh()

    def slide_layer(self):
        """The active layer if it is a slide, else the first H&E slide layer."""
        return slide_layer_of(self.viewer)

    def refresh(self, event=None) -> None:
        """Show the facts of the current slide layer."""
        while self._form.rowCount():
            self._form.removeRow(0)
        layer = self.slide_layer()
        self.pair_button.setEnabled(layer is not None)
        if layer is None:
            self._status.setText("Open or drop a slide (SVS, NDPI, OME-TIFF, tiled TIFF).")
            return
        try:
            slide = self._slide(layer.metadata["slide_path"])
        except SlideError as err:
            self._status.setText(str(err))
            return
        self._status.setText(f"Layer: {layer.name}")
        self._restore_pairing(layer)
        for label, value in describe_slide(slide):
            value_label = QLabel(value)
            value_label.setWordWrap(True)
            self._form.addRow(f"{label}:", value_label)

    def _slide(self, path: str) -> Slide:
        if path not in self._slides:
            self._slides[path] = open_slide(path)
        return self._slides[path]

    def _choose_paired_slide(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open paired CK5/6 slide", "", SLIDE_FILTER)
        if path:
            self.open_paired_slide(path)

    def open_paired_slide(self, path: str | Path):
        """Add ``path`` as the CK5/6 slide paired with the current H&E layer.

        Returns the new layer, or None after telling the user why it failed.
        """
        he_layer = self.slide_layer()
        try:
            slide = open_slide(path)
        except SlideError as err:
            from napari.utils.notifications import show_error

            show_error(str(err))
            return None
        data, kwargs, _ = slide_layer_data(slide, name=f"CK5/6: {slide.path.name}")
        kwargs["metadata"].update(role=PAIRED_ROLE,
                                  paired_with=he_layer.metadata["slide_path"] if he_layer else None)
        kwargs["opacity"] = 0.5
        layer = self.viewer.add_image(data, **kwargs)
        if he_layer is not None:
            he_layer.metadata["paired_slide_path"] = str(slide.path)
            self._restored.add(he_layer.metadata["slide_path"])
            self.pairing.register(he_layer, layer)
        return layer

    def _restore_pairing(self, layer) -> None:
        """Once per H&E slide: show the CK5/6 pairing saved in its workspace, if any."""
        path = layer.metadata["slide_path"]
        if layer.metadata.get("role") == PAIRED_ROLE or path in self._restored:
            return
        self._restored.add(path)
        self.pairing.restore(layer)
