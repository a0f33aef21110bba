"""The Retrain dock: train or fine-tune in a child process, watch the curves, adopt or roll back.

The widget gathers choices and shows results; the work is elsewhere:
``training.retrain_job`` writes the run's config and names the child command,
``_qt.training_process`` runs it (``histoseg train --json``) in a separate
process, ``training.run_progress`` turns its lines into curves and an ETA,
``training.compare`` scores the old and new model on the same held-out tiles
(in a worker thread), and ``models.library`` keeps, adopts and rolls back models.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout,
                            QHeaderView, QLabel, QLineEdit, QPushButton, QSpinBox, QTableWidget,
                            QTableWidgetItem, QVBoxLayout, QWidget)

from napari_histoseg._qt.layers import slide_layer_of
from napari_histoseg._qt.training_plot import TrainingPlot
from napari_histoseg._qt.training_process import TrainingProcess
from napari_histoseg.io.errors import FileError
from napari_histoseg.models.library import LibraryEntry, LibraryError, ModelLibrary
from napari_histoseg.training.retrain_job import PreparedRun, RetrainRequest, child_error, prepare_run
from napari_histoseg.training.run_progress import RunProgress

if TYPE_CHECKING:
    import napari

    from napari_histoseg.training.compare import Comparison

NEW_MODEL_LABEL = "New tiny HI-Net"
ERROR_STYLE = "color: #ff6b6b;"
ROLE = "hinet"


class RetrainWidget(QWidget):
    """Dataset, base model, epochs and learning rate; Train and Cancel; curves; old vs new."""

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.library = ModelLibrary()
        self.process = TrainingProcess(self)
        self.process.line.connect(self._on_line)
        self.process.ended.connect(self._on_ended)
        self.progress = RunProgress()
        self.run: PreparedRun | None = None
        self.new_entry: LibraryEntry | None = None
        self.comparison: Comparison | None = None
        self.worker = None
        self._build()
        self._fill_base_models()
        self._show_active()

    # --- layout -------------------------------------------------------------------------
    def _build(self) -> None:
        form = self._build_form()
        self.train_button = _button("Train", self.start)
        self.cancel_button = _button("Cancel", self.cancel, enabled=False)
        self.status = _label("Choose a built dataset and/or this slide's corrections, and press Train.")
        self.plot = TrainingPlot(_theme(self.viewer))
        self.models_label = _label("")
        self.table = _comparison_table()
        self.verdict = _label("")
        self.adopt_button = _button("Adopt new model", self.adopt, enabled=False)
        self.keep_button = _button("Keep old model", self.keep_old, enabled=False)
        self.rollback_button = _button("Roll back", self.rollback)
        self.active_label = _label("")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(_row(self.train_button, self.cancel_button))
        layout.addWidget(self.status)
        layout.addWidget(self.plot)
        layout.addWidget(self.models_label)
        layout.addWidget(self.table)
        layout.addWidget(self.verdict)
        layout.addLayout(_row(self.adopt_button, self.keep_button))
        layout.addLayout(_row(self.active_label, self.rollback_button))
        layout.addStretch()

    def _build_form(self) -> QFormLayout:
        self.data_edit = QLineEdit()
        self.data_edit.setPlaceholderText("a folder made by histoseg build-dataset")
        browse = QPushButton("…")
        browse.clicked.connect(self._browse_dataset)
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_edit, 1)
        data_row.addWidget(browse)
        self.corrections_box = QCheckBox("and this slide's corrections (weighted up)")
        self.corrections_box.setToolTip("The corrections saved in the open slide's workspace")
        self.base_box = QComboBox()
        self.base_box.currentIndexChanged.connect(self._suggest_learning_rate)
        self.epochs_box = QSpinBox()
        self.epochs_box.setRange(1, 1000)
        self.epochs_box.setValue(10)
        self.lr_box = QDoubleSpinBox()
        self.lr_box.setDecimals(5)
        self.lr_box.setRange(1e-5, 1.0)
        self.lr_box.setSingleStep(1e-4)
        form = QFormLayout()
        form.addRow("Dataset:", data_row)
        form.addRow("", self.corrections_box)
        form.addRow("Base model:", self.base_box)
        form.addRow("Epochs:", self.epochs_box)
        form.addRow("Learning rate:", self.lr_box)
        return form

    def _fill_base_models(self) -> None:
        from napari_histoseg.models.catalog import checkpoint_folders, find_checkpoints

        self.base_box.clear()
        self.base_box.addItem(NEW_MODEL_LABEL, "")
        for entry in find_checkpoints(checkpoint_folders()):
            if entry.usable and entry.architecture == ROLE:  # the retrain job trains HI-Net
                label = f"{entry.path.stem} (active)" if entry.active else entry.path.stem
                self.base_box.addItem(label, str(entry.path))
        self.base_box.setCurrentIndex(1 if self.base_box.count() > 1 else 0)

    def _browse_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a built dataset")
        if folder:
            self.data_edit.setText(folder)

    def _suggest_learning_rate(self) -> None:
        self.lr_box.setValue(1e-4 if self.base_box.currentData() else 1e-3)

    # --- training -----------------------------------------------------------------------
    def request(self) -> RetrainRequest:
        """The user's choices."""
        base = self.base_box.currentData()
        dataset = self.data_edit.text().strip()
        return RetrainRequest(Path(dataset) if dataset else None, Path(base) if base else None,
                              self.epochs_box.value(), self.lr_box.value(),
                              corrections=self._corrections_folder())

    def _corrections_folder(self) -> Path | None:
        """The open slide's workspace, when its corrections are asked for."""
        if not self.corrections_box.isChecked():
            return None
        layer = slide_layer_of(self.viewer)
        if layer is None:
            raise ValueError("open a slide to train on its corrections")
        from napari_histoseg.io.workspace import Workspace

        return Workspace.open(layer.metadata["slide_path"]).root

    def start(self) -> None:
        """Write the run's config and start the training process; errors go to the status line."""
        try:
            self.run = prepare_run(self.request())
        except (FileError, ValueError) as error:
            self._say(f"Cannot train: {error}", error=True)
            return
        self.progress, self.new_entry, self.comparison = RunProgress(), None, None
        self.plot.show_progress(self.progress)
        self.table.setRowCount(0)
        self.models_label.setText("")
        self.verdict.setText("")
        self._set_running(True)
        self._say(self.progress.status())
        self.process.start(self.run.command, self.run.environment, str(self.run.folder))

    def cancel(self) -> None:
        """Kill the training process at once (its run folder keeps the last whole epoch)."""
        self._say("Cancelling…")
        self.process.kill()

    def running(self) -> bool:
        return self.process.running() or self.worker is not None

    def _on_line(self, line: str) -> None:
        if self.progress.feed(line) is not None:
            self.plot.show_progress(self.progress)
            self._say(self.progress.status())

    def _on_ended(self, exit_code: int, stderr: str, killed: bool) -> None:
        if killed:
            self._say(f"Cancelled after {len(self.progress.epochs)} epoch(s); the run folder "
                      f"{self.run.folder} is kept.")
        elif exit_code != 0 or self.progress.finished is None:
            self._say(f"Training failed: {child_error(stderr, exit_code)}", error=True)
        else:
            self._say(self.progress.status())
            self._compare(Path(self.progress.finished["checkpoint"]))
            return
        self._set_running(False)

    # --- old against new ----------------------------------------------------------------
    def _compare(self, checkpoint: Path) -> None:
        from napari.qt.threading import create_worker

        layer = slide_layer_of(self.viewer)
        slide_path = layer.metadata["slide_path"] if layer is not None else None
        self.worker = create_worker(
            _keep_and_compare, self.library, checkpoint, self.run.name, self.request().base,
            slide_path, self.run.dataset,
            _connect={"returned": self._show_comparison, "errored": self._comparison_failed})
        self.models_label.setText(f"New: {self.run.name}")

    def _show_comparison(self, result: tuple[LibraryEntry, Path, Comparison]) -> None:
        self.new_entry, old, self.comparison = result
        self.models_label.setText(f"Old: {old.stem}\nNew: {self.run.name}")
        rows = self.comparison.rows()
        self.table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            for column, text in enumerate(row):
                self.table.setItem(index, column, QTableWidgetItem(text))
        _fit_height(self.table)
        self.verdict.setText(self.comparison.verdict())
        self._say(f"Done: {self.new_entry.name} is in the model library. Adopt it, or keep the old model.")
        self.worker = None
        self._set_running(False)
        self.adopt_button.setEnabled(True)
        self.keep_button.setEnabled(True)

    def _comparison_failed(self, error: Exception) -> None:
        self.worker = None
        self._set_running(False)
        self._say(f"Evaluating the models failed: {error}", error=True)

    # --- library ------------------------------------------------------------------------
    def adopt(self) -> None:
        """Make the new model the active one (the Segment dock lists it first when reopened)."""
        entry = self.library.adopt(self.new_entry.name)
        self._decided(f"Adopted {entry.name}.")

    def keep_old(self) -> None:
        """Leave the active model as it is; the new one stays in the library."""
        self._decided(f"Kept the old model; {self.new_entry.name} stays in the library unadopted.")

    def rollback(self) -> None:
        """Return to the model adopted before the active one."""
        try:
            entry = self.library.rollback(ROLE)
        except LibraryError as error:
            self._say(f"Cannot roll back: {error.problem}", error=True)
            return
        self._decided(f"Rolled back to {entry.name if entry else 'the bundled model'}.")

    def _decided(self, message: str) -> None:
        self.adopt_button.setEnabled(False)
        self.keep_button.setEnabled(False)
        self._say(message)
        self._show_active()
        self._fill_base_models()

    def _show_active(self) -> None:
        active = self.library.active(ROLE)
        self.active_label.setText(f"Active model: {active.name if active else 'bundled default'}")

    # --- helpers ------------------------------------------------------------------------
    def _set_running(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.cancel_button.setEnabled(running and self.process.running())
        self.rollback_button.setEnabled(not running)
        for control in (self.data_edit, self.base_box, self.epochs_box, self.lr_box):
            control.setEnabled(not running)

    def _say(self, message: str, error: bool = False) -> None:
        self.status.setText(message)
        self.status.setStyleSheet(ERROR_STYLE if error else "")


def _keep_and_compare(library: ModelLibrary, checkpoint: Path, name: str, base: Path | None,
                      slide_path: str | None, dataset: Path) -> tuple[LibraryEntry, Path, Comparison]:
    """Worker thread: add the new checkpoint to the library, then score it against the old
    model: the base it was tuned from, else the model the open slide runs by default."""
    from napari_histoseg.inference.model_choice import incumbent_model
    from napari_histoseg.training.compare import compare_models

    old = base or incumbent_model(slide_path, library)
    entry = library.add(checkpoint, name=name)
    return entry, old, compare_models(entry.path, old, dataset)


def _theme(viewer) -> dict[str, str]:
    from napari.utils.theme import get_theme

    theme = get_theme(viewer.theme)
    return {"background": theme.background.as_hex(), "text": theme.text.as_hex(),
            "line": theme.current.as_hex()}


def _comparison_table() -> QTableWidget:
    table = QTableWidget(0, 3)
    table.setHorizontalHeaderLabels(["", "Old", "New"])
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    _fit_height(table)
    return table


def _fit_height(table: QTableWidget) -> None:
    """Exactly as tall as its header and rows: no empty area below the figures."""
    rows = sum(table.rowHeight(row) for row in range(table.rowCount()))
    table.setFixedHeight(table.horizontalHeader().sizeHint().height() + rows + 2 * table.frameWidth())


def _button(text: str, slot, enabled: bool = True) -> QPushButton:
    button = QPushButton(text)
    button.clicked.connect(slot)
    button.setEnabled(enabled)
    return button


def _label(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(widget)
    return row
