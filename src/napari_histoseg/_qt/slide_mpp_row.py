"""The Segment dock's "Slide µm/px" row: shown only when the slide's file states none.

It is prefilled from the objective power when the metadata has one (20x ->
0.5 µm/px), or with the µm/px an earlier run of this slide used.
"""

from __future__ import annotations

from qtpy.QtWidgets import QDoubleSpinBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from napari_histoseg.io.mpp import MAX_MPP, mpp_from_objective


class SlideMppRow(QWidget):
    """A µm/px box with a note saying why it is asked for; hidden for slides that state one."""

    def __init__(self):
        super().__init__()
        self.box = QDoubleSpinBox()
        self.box.setDecimals(4)
        self.box.setRange(0.0, MAX_MPP)
        self.box.setSingleStep(0.05)
        self.box.setSpecialValueText("enter the slide's µm/px")
        self.box.setToolTip("Level-0 micrometres per pixel of the slide (0.25 at 40x, 0.5 at 20x)")
        self.note = QLabel()
        self.note.setWordWrap(True)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Slide µm/px:", self.box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addLayout(form)
        self._slide_path: str | None = None
        self.setVisible(False)

    @property
    def needed(self) -> bool:
        """True when the current slide's file states no usable µm/px."""
        return self._slide_path is not None

    def show_for(self, layer) -> None:
        """Show (and prefill) the row for a slide layer without µm/px; hide it otherwise."""
        meta = layer.metadata if layer is not None else {}
        path = meta.get("slide_path") if layer is not None and meta.get("mpp") is None else None
        if path is not None and path != self._slide_path:
            self._prefill(meta)
        self._slide_path = path
        self.setVisible(path is not None)

    def value(self) -> float | None:
        """The entered µm/px, or None when not needed or not entered."""
        return (self.box.value() or None) if self.needed else None

    def _prefill(self, meta: dict) -> None:
        used = meta.get("mpp_used")
        guess = mpp_from_objective(meta.get("objective_power"))
        why = meta.get("mpp_problem") or "its metadata has none"
        if used:
            self.box.setValue(float(used[0]))
            hint = "Prefilled with the µm/px of an earlier run."
        elif guess:
            self.box.setValue(guess)
            hint = (f"Prefilled from the {meta['objective_power']:g}x objective "
                    f"(about {guess:g} µm/px); check it.")
        else:
            self.box.setValue(0.0)
            hint = "Enter it (0.25 at 40x, 0.5 at 20x)."
        self.note.setText(f"This slide's file states no usable µm/px ({why}). {hint}")
