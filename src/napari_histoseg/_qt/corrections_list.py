"""The list of a slide's corrections: count, area changed, jump to one, delete one.

Shows the CorrectionStore's manifest entries (no pixels are read); the dock
does the jumping and deleting.
"""

from __future__ import annotations

from typing import Callable

from qtpy.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QPushButton, QTableWidget,
                            QTableWidgetItem, QVBoxLayout, QWidget)

COLUMNS = ("Time (UTC)", "Author", "Area changed (µm²)")


class CorrectionsList(QWidget):
    """A table of correction entries with "Jump to" and "Delete" for the selected one.

    Args:
        jump: called with the selected entry (a manifest dict).
        delete: called with the selected entry's record id.
    """

    def __init__(self, jump: Callable[[dict], None], delete: Callable[[str], None]):
        super().__init__()
        self._entries: list[dict] = []
        self.summary = QLabel("No corrections yet.")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda _index: self._jump(jump))
        self.jump_button = QPushButton("Jump to")
        self.jump_button.clicked.connect(lambda: self._jump(jump))
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the correction: its pixels go back to the model's")
        self.delete_button.clicked.connect(lambda: self._delete(delete))
        buttons = QHBoxLayout()
        buttons.addWidget(self.jump_button)
        buttons.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.show_entries([])

    def show_entries(self, entries: list[dict]) -> None:
        """Show manifest ``entries`` (oldest first); the newest is listed first."""
        self._entries = list(reversed(entries))
        self.table.setRowCount(len(self._entries))
        for row, entry in enumerate(self._entries):
            values = (entry["time"][:19].replace("T", " "), entry["author"],
                      f"{entry['area_changed_um2']:,.0f}")
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        total = sum(entry["area_changed_um2"] for entry in entries)
        self.summary.setText(f"{len(entries)} correction{'s' * (len(entries) != 1)}, "
                             f"{total:,.0f} µm² changed" if entries else "No corrections yet.")
        if self._entries:
            self.table.selectRow(0)
        self.jump_button.setEnabled(bool(entries))
        self.delete_button.setEnabled(bool(entries))

    def selected(self) -> dict | None:
        """The selected entry, or None."""
        rows = self.table.selectionModel().selectedRows()
        return self._entries[rows[0].row()] if rows else None

    def _jump(self, jump: Callable[[dict], None]) -> None:
        entry = self.selected()
        if entry is not None:
            jump(entry)

    def _delete(self, delete: Callable[[str], None]) -> None:
        entry = self.selected()
        if entry is not None:
            delete(entry["record_id"])
