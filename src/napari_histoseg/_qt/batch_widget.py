"""The Batch panel of the Segment dock: many slides on dask.distributed, progress per slide.

The user picks a folder of slides or a CSV manifest, and a scheduler address
(any dask.distributed scheduler: dask-jobqueue on SLURM, a ``dask scheduler``
on a server...) or a number of local workers. The run is
``inference.batch.runner.run_on_cluster``, wrapped in napari's
``create_worker``: the cluster is started, the slides are followed and the
summary CSV is written off the GUI thread. The panel shows one row per slide
(progress bar and status) and the dashboard's address. The Segment dock's
choices (model, resolution, tiling, device) apply to every slide.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Callable

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
                            QLineEdit, QProgressBar, QPushButton, QSpinBox, QTableWidget,
                            QTableWidgetItem, QVBoxLayout, QWidget)

from napari_histoseg.inference.batch.manifest import BatchItem, items_from_source
from napari_histoseg.inference.session import SegmentRequest

SUMMARY_NAME = "histoseg-batch-summary.csv"


class BatchWidget(QWidget):
    """Source (folder or manifest), cluster (scheduler or local workers), Start, Cancel, a table.

    Args:
        template: called at Start; the SegmentRequest whose settings every slide uses.
    """

    def __init__(self, template: Callable[[], SegmentRequest]):
        super().__init__()
        self._template = template
        self.worker = None
        self.outcomes = None
        self._cancel = threading.Event()
        self._build()

    def _build(self) -> None:
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("a folder of slides, or a .csv manifest")
        folder, manifest = QPushButton("Folder…"), QPushButton("Manifest…")
        folder.clicked.connect(self._browse_folder)
        manifest.clicked.connect(self._browse_manifest)
        source_row = QHBoxLayout()
        for widget in (self.source_edit, folder, manifest):
            source_row.addWidget(widget, 1 if widget is self.source_edit else 0)
        self.scheduler_edit = QLineEdit()
        self.scheduler_edit.setPlaceholderText("empty: local workers; or tcp://host:8786")
        self.workers_box = QSpinBox()
        self.workers_box.setRange(1, 256)
        self.workers_box.setValue(max(1, (os.cpu_count() or 2) // 2))
        self.scheduler_edit.textChanged.connect(
            lambda text: self.workers_box.setEnabled(not text.strip()))
        self.start_button, self.cancel_button = QPushButton("Start batch"), QPushButton("Cancel")
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Slide", "Progress", "Status"])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(180)
        self.status = QLabel("Choose a folder or manifest, then Start batch.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.addRow("Slides:", source_row)
        form.addRow("Scheduler:", self.scheduler_edit)
        form.addRow("Local workers:", self.workers_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Segment the slides in")
        if folder:
            self.source_edit.setText(folder)

    def _browse_manifest(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Manifest", "", "CSV manifests (*.csv)")
        if path:
            self.source_edit.setText(path)

    def start(self) -> None:
        """Read the slide list here (fast, so errors show at once), then run in a worker."""
        from importlib.util import find_spec

        from napari.qt.threading import create_worker

        from napari_histoseg.inference.batch.command import MISSING_EXTRA

        if find_spec("distributed") is None:
            self.status.setText(MISSING_EXTRA)
            return
        try:
            items = items_from_source(Path(self.source_edit.text().strip()))
        except ValueError as err:
            self.status.setText(str(err))
            return
        self._fill_table(items)
        self._cancel.clear()
        scheduler = self.scheduler_edit.text().strip() or None
        template = replace(self._template(), publish_s=2.0)
        self.worker = create_worker(_run, items, template, scheduler, self.workers_box.value(),
                                    self._cancel, _summary_path(self.source_edit.text()),
                                    _ignore_errors=True)
        self.worker.yielded.connect(self._on_event)
        self.worker.returned.connect(self._on_done)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(lambda: self._set_running(False))
        self._set_running(True)
        self.status.setText(f"Starting the cluster for {len(items)} slides…")
        self.worker.start()

    def cancel(self) -> None:
        """Every slide stops after its current batch and keeps its finished tiles."""
        self._cancel.set()
        self.status.setText("Cancelling after each slide's current batch…")

    def _fill_table(self, items: list[BatchItem]) -> None:
        self.table.setRowCount(len(items))
        for row, item in enumerate(items):
            self.table.setItem(row, 0, QTableWidgetItem(item.slide.name))
            self.table.setCellWidget(row, 1, QProgressBar())
            self.table.setItem(row, 2, QTableWidgetItem("queued"))

    def _on_event(self, event) -> None:
        from napari_histoseg.inference.batch.runner import BatchStarted

        if isinstance(event, BatchStarted):
            self.status.setText(f"{event.workers} workers at {event.scheduler}; "
                                f"dashboard: {event.dashboard}")
            return
        bar, status = self.table.cellWidget(event.index, 1), self.table.item(event.index, 2)
        if event.kind in ("planned", "progress"):
            bar.setMaximum(max(event.total, 1))
            bar.setValue(event.done)
            status.setText(f"running on {event.worker}")
        elif event.kind == "warning":
            status.setToolTip(event.message)
        elif event.kind == "finished":
            outcome = event.outcome
            if outcome.status == "done":  # its last progress message may come after this
                total = outcome.tiles_computed + outcome.tiles_already_done
                bar.setMaximum(max(total, 1))
                bar.setValue(max(total, 1))
            status.setText(outcome.status if not outcome.error
                           else f"{outcome.status}: {_without_path(outcome)}")
            status.setToolTip(outcome.error)

    def _on_done(self, result) -> None:
        self.outcomes, path = result
        done = sum(o.status == "done" for o in self.outcomes)
        self.status.setText(f"{done} of {len(self.outcomes)} slides done; summary in {path}")

    def _on_error(self, error: Exception) -> None:
        self.status.setText(f"The batch failed: {error}")

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Closing the panel cancels its batch."""
        self._cancel.set()
        super().closeEvent(event)


def _run(items, template, scheduler, workers, cancel, summary_path: Path):
    """Worker thread: the batch's events; returns (outcomes, summary path)."""
    from napari_histoseg.inference.batch.runner import run_on_cluster
    from napari_histoseg.inference.batch.summary import write_summary

    outcomes = yield from run_on_cluster(items, template, scheduler,
                                         None if scheduler else workers, cancel=cancel)
    return outcomes, write_summary(outcomes, summary_path)


def _without_path(outcome) -> str:
    """The error without the slide's path in front (the row names the slide)."""
    prefix = f"{outcome.slide}: "
    return outcome.error[len(prefix):] if outcome.error.startswith(prefix) else outcome.error


def _summary_path(source: str) -> Path:
    """Beside the manifest, or in the folder of slides."""
    path = Path(source.strip())
    return (path if path.is_dir() else path.parent) / SUMMARY_NAME
