"""The CK5/6 part of the Slide dock: register the paired slide, show its quality, nudge it.

The widget holds no numerics: ``pairing.pair_slides`` (registration, saved pairing,
edge pyramid) runs in napari's ``thread_worker``; the CK5/6 layer is placed on the
H&E by napari's ``affine`` (``registration.layer_affine``), never resampled; the edge
pyramid is shown as an additive layer in the H&E's µm. Reopening the H&E restores
both from its workspace.
"""

from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import (QDoubleSpinBox, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                            QVBoxLayout)

from napari_histoseg._qt.model_edges_layer import show_model_edges
from napari_histoseg.io.errors import FileError
from napari_histoseg.io.slide import open_slide

#: Metadata key marking the CK5/6 edge layer (its value: the H&E slide path).
EDGES_OF_KEY = "histoseg_ck56_edges_of"
POOR_STYLE = "color: #ff6060;"


class PairingPanel(QGroupBox):
    """Registration status and a manual nudge for the CK5/6 layer paired with an H&E layer."""

    def __init__(self, viewer):
        super().__init__("CK5/6 registration")
        self.viewer = viewer
        self.he_layer = self.ck56_layer = self.pairing = None
        self.worker = None
        self.status = QLabel("No CK5/6 slide paired.")
        self.status.setWordWrap(True)
        self.dy_box, self.dx_box, self.angle_box = (self._spin(" µm", 500.0), self._spin(" µm", 500.0),
                                                     self._spin("°", 20.0))
        self.nudge_button = QPushButton("Apply nudge")
        self.nudge_button.setToolTip("Move the CK5/6 overlay down (dy) and right (dx) and turn it "
                                     "about the slide's centre; the edge map is recomputed.")
        self.nudge_button.clicked.connect(self.apply_nudge)
        row = QHBoxLayout()
        for label, box in (("dy", self.dy_box), ("dx", self.dx_box), ("turn", self.angle_box)):
            row.addWidget(QLabel(label))
            row.addWidget(box)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(row)
        layout.addWidget(self.nudge_button)
        self._set_busy(False)

    @staticmethod
    def _spin(suffix: str, limit: float) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(-limit, limit)
        box.setDecimals(1)
        box.setSuffix(suffix)
        return box

    def register(self, he_layer, ck56_layer) -> None:
        """Register the CK5/6 slide of ``ck56_layer`` onto ``he_layer``'s slide in the background."""
        from napari.qt.threading import create_worker

        from napari_histoseg.io.workspace import Workspace
        from napari_histoseg.pairing import pair_slides

        self.he_layer, self.ck56_layer = he_layer, ck56_layer
        he = open_slide(he_layer.metadata["slide_path"])
        ck56 = open_slide(ck56_layer.metadata["slide_path"])
        root = Workspace.open(he.path).root
        self.status.setText(f"Registering {ck56.path.name} onto {he.path.name}…")
        self.status.setStyleSheet("")
        self._set_busy(True)
        self.worker = create_worker(pair_slides, he, ck56, root, _connect={
            "yielded": lambda step: self.status.setText(f"{step[0].capitalize()}… {100 * step[1]:.0f}%"),
            "returned": lambda pairing: self._show(pairing, he, root), "errored": self._failed})

    def restore(self, he_layer) -> bool:
        """Show the pairing saved in ``he_layer``'s workspace; True if there was one."""
        from napari_histoseg._reader import slide_layer_data
        from napari_histoseg.io.workspace import Workspace
        from napari_histoseg.pairing import load_pairing

        workspace = Workspace.find(he_layer.metadata["slide_path"])
        if workspace is None:
            return False
        try:
            pairing = load_pairing(workspace.root)
            if pairing is None:
                return False
            ck56 = open_slide(pairing.ck56_path)
        except FileError as err:
            self._failed(err)
            return False
        data, kwargs, _ = slide_layer_data(ck56, name=f"CK5/6: {ck56.path.name}")
        kwargs["metadata"].update(role="ck56", paired_with=he_layer.metadata["slide_path"])
        self.he_layer, self.ck56_layer = he_layer, self.viewer.add_image(data, opacity=0.5, **kwargs)
        self._show(pairing, open_slide(he_layer.metadata["slide_path"]), workspace.root)
        return True

    def apply_nudge(self) -> None:
        """Save the nudge in the workspace, move the overlay, recompute the edges in the background."""
        from napari.qt.threading import create_worker

        from napari_histoseg.edges import edge_pyramid
        from napari_histoseg.io.workspace import Workspace
        from napari_histoseg.pairing import renudge
        from napari_histoseg.registered import RegisteredSlide

        if self.pairing is None or self.he_layer is None:
            return
        he = open_slide(self.he_layer.metadata["slide_path"])
        root = Workspace.open(he.path).root
        pairing = renudge(root, self.pairing, he, self.dy_box.value(), self.dx_box.value(),
                          self.angle_box.value())
        self._place(pairing, he)
        self._set_busy(True)
        view = RegisteredSlide(he, open_slide(pairing.ck56_path), pairing.registration)
        self.worker = create_worker(edge_pyramid, view, root, _connect={
            "returned": lambda pyramid: self._show(pairing, he, root), "errored": self._failed})

    def _show(self, pairing, he, root: Path) -> None:
        """Place the CK5/6 layer, show the edge layer and the quality line."""
        self._set_busy(False)
        self._place(pairing, he)
        self._show_edges(he, root)
        show_model_edges(self.viewer, str(he.path), root)     # from an earlier fusion run, if any
        registration = pairing.registration
        self.status.setText(registration.summary())
        self.status.setStyleSheet("" if registration.ok else POOR_STYLE)
        for box, value in zip((self.dy_box, self.dx_box, self.angle_box), registration.nudge):
            box.setValue(value)

    def _place(self, pairing, he) -> None:
        from napari_histoseg.registration import layer_affine

        self.pairing = pairing
        if self.ck56_layer is not None and self.ck56_layer in self.viewer.layers:
            self.ck56_layer.scale = (1.0, 1.0)
            self.ck56_layer.affine = layer_affine(pairing.registration, he.mpp)
            self.ck56_layer.units = ("µm", "µm")

    def _show_edges(self, he, root: Path) -> None:
        import dask.array as da

        from napari_histoseg.io.edge_store import EDGES_NAME, open_edges

        path = Path(root) / EDGES_NAME
        if not path.exists():
            return
        pyramid = open_edges(path)
        levels = [da.from_zarr(level) for level in pyramid.levels]
        existing = next((layer for layer in self.viewer.layers
                         if layer.metadata.get(EDGES_OF_KEY) == str(he.path)), None)
        if existing is not None:
            existing.data = levels
            return
        self.viewer.add_image(levels, multiscale=True, name="CK5/6 edges (DAB)", colormap="green",
                              blending="additive", contrast_limits=(0, 255), scale=pyramid.scale,
                              translate=pyramid.translate, units=("µm", "µm"),
                              metadata={EDGES_OF_KEY: str(he.path)})

    def _failed(self, err: Exception) -> None:
        from napari.utils.notifications import show_error

        self._set_busy(False)
        message = str(err) if isinstance(err, FileError) else f"{type(err).__name__}: {err}"
        self.status.setText(f"Not registered: {message}")
        self.status.setStyleSheet(POOR_STYLE)
        show_error(message)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        enabled = not busy and self.pairing is not None
        for widget in (self.dy_box, self.dx_box, self.angle_box, self.nudge_button):
            widget.setEnabled(enabled)
