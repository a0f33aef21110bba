"""The Report dock: the slide's numbers, its lesions (click one to go there), CSV and HTML export.

The widget gathers nothing but the slide and shows what :mod:`napari_histoseg.report`
computes. The report (one pass over the mask) and the HTML page (a matplotlib figure)
are made in worker threads, so the GUI never waits for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (QAbstractItemView, QFileDialog, QFormLayout, QHBoxLayout,
                            QHeaderView, QLabel, QPushButton, QTableWidget, QTableWidgetItem,
                            QVBoxLayout, QWidget)

from napari_histoseg._qt.layers import RESULT_SLIDE_KEY, slide_layer_of
from napari_histoseg._reader import RESULT_KEY
from napari_histoseg.report.slide_report import Lesion, SlideReport, build_report
from napari_histoseg.report.summary import mm2, summary_items

if TYPE_CHECKING:
    import napari

COLUMNS = ("#", "Longest diameter (mm)", "Area", "Centre y, x (px)")
#: Summary rows the dock leaves to the exported files.
IN_FILES_ONLY = ("Slide", "Workspace", "Report made")
#: Share of the canvas a lesion's box fills after a click.
ZOOM_FILL = 0.5


def camera_for(lesion: Lesion, slide_mpp: tuple[float, float],
               canvas: tuple[int, int]) -> tuple[tuple[float, float], float]:
    """World centre (y, x) in µm and zoom (screen px per µm) that show ``lesion``.

    The lesion's box (level-0 px) fills ``ZOOM_FILL`` of a ``canvas`` (h, w) of screen px;
    napari puts pixel ``k``'s centre at ``k * scale``, so half a pixel comes off.
    """
    y0, x0, y1, x1 = lesion.box
    centre = ((lesion.centroid[0] - 0.5) * slide_mpp[0], (lesion.centroid[1] - 0.5) * slide_mpp[1])
    height, width = max((y1 - y0) * slide_mpp[0], 1e-3), max((x1 - x0) * slide_mpp[1], 1e-3)
    return centre, ZOOM_FILL * min(canvas[0] / height, canvas[1] / width)


class ReportWidget(QWidget):
    """Make report; the numbers; the lesion table; Export CSV and Export HTML."""

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.report: SlideReport | None = None
        self.worker = None
        self.make_button = QPushButton("Make report")
        self.make_button.setToolTip("Measure the open slide's mask (with its corrections)")
        self.make_button.clicked.connect(self.make_report)
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.clicked.connect(self._choose_csv)
        self.html_button = QPushButton("Export HTML…")
        self.html_button.clicked.connect(self._choose_html)
        self.numbers = QFormLayout()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.cellClicked.connect(lambda row, _column: self.zoom_to(row))
        self.status = QLabel("Segment a slide, then press Make report.")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.make_button, self.csv_button, self.html_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addLayout(self.numbers)
        layout.addWidget(QLabel("Lesions, longest first (click one to go there):"))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        self._set_ready(None)

    # --- actions ------------------------------------------------------------------------
    def source(self) -> Path | None:
        """The workspace of the open slide's mask layer, else the slide file, else None."""
        layer = slide_layer_of(self.viewer)
        if layer is None:
            return None
        slide_path = layer.metadata["slide_path"]
        mask = next((other for other in self.viewer.layers
                     if other.metadata.get(RESULT_SLIDE_KEY) == slide_path
                     and RESULT_KEY in other.metadata), None)
        return Path(mask.metadata[RESULT_KEY]).parent if mask is not None else Path(slide_path)

    def make_report(self) -> None:
        """Build the report of the open slide in a worker thread."""
        from napari.qt.threading import create_worker

        source = self.source()
        if source is None:
            self._say("No slide is open: open a slide and segment it first.")
            return
        self.make_button.setEnabled(False)
        self._say(f"Measuring the mask of {source.name}…")
        self.worker = create_worker(build_report, source, _ignore_errors=True)
        self.worker.returned.connect(self.show_report)
        self.worker.errored.connect(lambda error: self._say(f"No report: {error}"))
        self.worker.finished.connect(lambda: self.make_button.setEnabled(True))
        self.worker.start()

    def show_report(self, report: SlideReport) -> None:
        """Show the numbers and fill the lesion table."""
        self.report = report
        while self.numbers.rowCount():
            self.numbers.removeRow(0)
        for label, value in summary_items(report):
            if label in IN_FILES_ONLY:
                continue
            text = QLabel(value)
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.numbers.addRow(f"{label.strip()}:", text)
        self.table.setRowCount(len(report.lesions))
        for row, lesion in enumerate(report.lesions):
            cells = (str(lesion.rank), f"{lesion.diameter_mm:.3f}", mm2(lesion.area_mm2),
                     f"{lesion.centroid[0]:.0f}, {lesion.centroid[1]:.0f}")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column < 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self._set_ready(report)
        self._say(f"{report.name}: {report.category}, {len(report.lesions)} lesion(s).")

    def zoom_to(self, row: int) -> None:
        """Centre the view on lesion ``row`` of the table and zoom to its size."""
        if self.report is None or not 0 <= row < len(self.report.lesions):
            return
        canvas = getattr(self.viewer, "_canvas_size", None) or (600, 800)
        centre, zoom = camera_for(self.report.lesions[row], self.report.slide_mpp, canvas)
        self.viewer.scene.camera.center = centre
        self.viewer.scene.camera.zoom = zoom

    def export_csv(self, path: str | Path) -> tuple[Path, Path]:
        """Write the summary to ``path`` and the lesions beside it (``<stem>-lesions.csv``)."""
        from napari_histoseg.report.tables import write_report_csv

        written = write_report_csv(self.report, path)
        self._say(f"Saved {written[0].name} and {written[1].name} in {written[0].parent}.")
        return written

    def export_html(self, path: str | Path):
        """Write the one-page HTML report in a worker thread; returns the worker."""
        from napari.qt.threading import create_worker

        from napari_histoseg.report.html_page import write_html

        self._say("Drawing the report page…")
        worker = create_worker(write_html, self.report, Path(path), _ignore_errors=True)
        worker.returned.connect(lambda written: self._say(f"Saved {written}."))
        worker.errored.connect(lambda error: self._say(f"Not saved: {error}"))
        worker.start()
        return worker

    # --- helpers ------------------------------------------------------------------------
    def _choose_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export CSV", self._suggest(".csv"),
                                              "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def _choose_html(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export HTML", self._suggest(".report.html"),
                                              "HTML (*.html)")
        if path:
            self.export_html(path)

    def _suggest(self, suffix: str) -> str:
        return str(Path(self.report.workspace) / f"{self.report.name}{suffix}")

    def _set_ready(self, report: SlideReport | None) -> None:
        self.csv_button.setEnabled(report is not None)
        self.html_button.setEnabled(report is not None)

    def _say(self, message: str) -> None:
        self.status.setText(message)
