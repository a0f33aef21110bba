"""A legend of the mask's classes: a coloured square and the class name per line, from the checkpoint."""

from __future__ import annotations

from html import escape

from qtpy.QtWidgets import QLabel


class ClassLegend(QLabel):
    """Shows the non-background classes of the current result (names and colours as stored)."""

    def __init__(self):
        super().__init__()
        self.setWordWrap(True)
        self.hide()

    def show_classes(self, names: tuple[str, ...], colours: tuple[str, ...]) -> None:
        """One line per class after the background (class 0), in its mask colour."""
        lines = [f'<span style="color:{escape(colour)}; font-size:16px">&#9632;</span> {escape(name)}'
                 for name, colour in list(zip(names, colours))[1:]]
        self.setText("Mask legend:<br>" + "<br>".join(lines))
        self.setVisible(bool(lines))
