"""The Explain dock: compute the Grad-CAM heatmap, list key regions and the review queue.

The widget gathers choices and shows results; the run is
``explain.run``'s generator in a napari worker (cancel between batches, resume
on the next run). Key regions and review tiles are listed in two tables and
drawn as Shapes layers; a click on a row, or Next / Previous, centres the view
on it (key regions at a 40x-equivalent zoom, review tiles fitted to the
canvas). The current list exports as CSV or GeoJSON.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QFormLayout,
                            QHBoxLayout, QHeaderView, QLabel, QLineEdit, QProgressBar, QPushButton, QSpinBox,
                            QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from napari_histoseg._qt.explain_layers import (KEY_REGIONS_NAME, QUEUE_NAME, ZOOM_40X,
                                               camera_for, heatmap_layer_data,
                                               regions_layer_data, show_colorbar)
from napari_histoseg._qt.layers import slide_layer_of, viewport_box
from napari_histoseg._qt.model_choices import fill_boxes, list_choices
from napari_histoseg.explain.heatmap_store import open_heatmap
from napari_histoseg.explain.region_files import export_regions, load_explanation
from napari_histoseg.explain.run import ExplainRequest, Phase, prepare_explain, run_explain
from napari_histoseg.inference.events import BatchSizeReduced, Progress
from napari_histoseg.inference.session import SegmentRequest
from napari_histoseg.io.workspace import Workspace

if TYPE_CHECKING:
    import napari

WHOLE_SLIDE, VISIBLE_ONLY = "Whole slide", "Visible region only"
COLUMNS = {KEY_REGIONS_NAME: ("rank", "score", "mass", "tumour"),
           QUEUE_NAME: ("rank", "score", "entropy", "disagreement")}
COLOURS = {KEY_REGIONS_NAME: "#ff6a00", QUEUE_NAME: "#0080ff"}
LEGEND = ("Heatmap (Grad-CAM, colour bar top right): 0 = the model did not use this area "
          "for the class, 1 = it relied on it most (per tile). Key regions: score = heat x "
          "tumour probability. Review queue: tiles where the model is least sure.")


class ExplainWidget(QWidget):
    """Model, class and scope; Compute and Cancel; key-region and review-queue tables."""

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self.last_summary = None
        self._cancel = threading.Event()
        self._viewport = None
        self._slide_mpp = (1.0, 1.0)
        self._heat_layer = None
        self._phase = ""
        self.lists: dict[str, list] = {KEY_REGIONS_NAME: [], QUEUE_NAME: []}
        self._build()
        self._hooks = [(self.viewer.scene.camera.events.center, self._remember_viewport),
                       (self.viewer.scene.camera.events.zoom, self._remember_viewport),
                       (self.viewer.layers.events.inserted, self.show_saved)]
        for emitter, callback in self._hooks:
            emitter.connect(callback)
        self.show_saved()
        self._list_choices()

    # --- layout -------------------------------------------------------------------------
    def _build(self) -> None:
        self.model_box, self.device_box = QComboBox(), QComboBox()
        self.device_box.addItems(["auto", "cpu"])
        self.class_edit = QLineEdit()
        self.class_edit.setPlaceholderText("last class (tumour)")
        self.scope_box = QComboBox()
        self.scope_box.addItems([WHOLE_SLIDE, VISIBLE_ONLY])
        self.window_box = QSpinBox()
        self.window_box.setRange(8, 2048)
        self.window_box.setValue(128)
        self.compute_button = QPushButton("Compute heatmap")
        self.compute_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress, self.status = QProgressBar(), QLabel("Open a slide and press Compute.")
        self.status.setWordWrap(True)
        self.legend = QLabel(LEGEND)
        self.legend.setWordWrap(True)
        self.tabs = QTabWidget()
        self.tables = {name: self._table(name) for name in COLUMNS}
        self.previous_button, self.next_button = QPushButton("◀ Previous"), QPushButton("Next ▶")
        self.previous_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        csv_button, geojson_button = QPushButton("Export CSV…"), QPushButton("Export GeoJSON…")
        csv_button.clicked.connect(lambda: self._export_dialog("CSV (*.csv)", ".csv"))
        geojson_button.clicked.connect(lambda: self._export_dialog("GeoJSON (*.geojson)",
                                                                   ".geojson"))
        form = QFormLayout()
        form.addRow("Model:", self.model_box)
        form.addRow("Class:", self.class_edit)
        form.addRow("Region:", self.scope_box)
        form.addRow("Key-region window (px):", self.window_box)
        form.addRow("Device:", self.device_box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for row in ((self.compute_button, self.cancel_button), (),
                    (self.previous_button, self.next_button), (csv_button, geojson_button)):
            if not row:
                layout.addWidget(self.progress)
                layout.addWidget(self.status)
                layout.addWidget(self.legend)
                layout.addWidget(self.tabs, 1)
                continue
            line = QHBoxLayout()
            for button in row:
                line.addWidget(button)
            layout.addLayout(line)

    def _table(self, name: str) -> QTableWidget:
        table = QTableWidget(0, len(COLUMNS[name]))
        table.setHorizontalHeaderLabels(COLUMNS[name])
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        table.cellClicked.connect(lambda row, _col: self.go_to(name, row))
        self.tabs.addTab(table, name)
        return table

    def _list_choices(self) -> None:
        from napari.qt.threading import create_worker

        self._choices_worker = create_worker(list_choices, _ignore_errors=True)
        self._choices_worker.returned.connect(
            lambda choices: fill_boxes(self.model_box, self.device_box, choices))
        self._choices_worker.start()

    def select_model(self, source: str | Path) -> None:
        """Choose a checkpoint path or architecture name, adding it to the list if new."""
        if self.model_box.findData(str(source)) < 0:
            self.model_box.addItem(Path(source).stem, str(source))
        self.model_box.setCurrentIndex(self.model_box.findData(str(source)))

    # --- running ------------------------------------------------------------------------
    def request(self, slide_path: str) -> ExplainRequest:
        """The user's choices for ``slide_path`` (grid: the slide's earlier segmentation)."""
        segment = SegmentRequest(slide_path=Path(slide_path),
                                 model=self.model_box.currentData() or None, halo=None,
                                 device=self.device_box.currentText(), publish_s=0.5)
        visible = self.scope_box.currentText() == VISIBLE_ONLY
        return ExplainRequest(segment, target_class=self.class_edit.text().strip() or None,
                              box=self._viewport if visible else None,
                              window=self.window_box.value())

    def start(self) -> None:
        """Segment what is missing, compute the heatmap, then rank, in a worker thread."""
        from napari.qt.threading import create_worker

        layer = slide_layer_of(self.viewer)
        if layer is None:
            self._say("No slide is open: open a slide first.")
            return
        self._remember_viewport()
        self._cancel.clear()
        self.worker = create_worker(self._run, self.request(layer.metadata["slide_path"]),
                                    _ignore_errors=True)
        self.worker.yielded.connect(self._on_event)
        self.worker.returned.connect(self._on_done)
        self.worker.errored.connect(lambda error: self._say(f"Explanation failed: {error}"))
        self.worker.finished.connect(lambda: self._set_running(False))
        self._set_running(True)
        self._say("Planning…")
        self.worker.start()

    def _run(self, request: ExplainRequest):
        """Worker thread: the prepared run's heatmap layer data, then the run's events."""
        prepared = prepare_explain(request, warn=lambda message: None)
        yield ("heatmap", prepared.heatmap_plan.store, str(request.segment.slide_path))
        return (yield from run_explain(prepared, viewport=lambda: self._viewport,
                                       cancel=self._cancel))

    def cancel(self) -> None:
        """Stop after the current batch; finished tiles are kept for the next run."""
        self._cancel.set()
        self._say("Cancelling after the current batch…")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._cancel.set()
        for emitter, callback in self._hooks:
            emitter.disconnect(callback)
        self._hooks = []
        super().closeEvent(event)

    # --- events (GUI thread) ------------------------------------------------------------
    def _on_event(self, event) -> None:
        if isinstance(event, tuple) and event[0] == "heatmap":
            self._show_heatmap(event[1], event[2])
        elif isinstance(event, Phase):
            self._say(f"{event.name}: {event.total} tiles" if event.total else "Ranking…")
            self._phase = event.name
        elif isinstance(event, Progress):
            self.progress.setMaximum(max(event.total, 1))
            self.progress.setValue(event.done)
            self._say(f"{self._phase}: {event.done} / {event.total} tiles")
            if self._heat_layer is not None and self._phase == "heatmap":
                self._heat_layer.refresh()
        elif isinstance(event, BatchSizeReduced):
            self._say(event.message)

    def _on_done(self, summary) -> None:
        self.last_summary = summary
        if self._heat_layer is not None:
            self._heat_layer.refresh()
        if summary.cancelled:
            self._say("Cancelled: finished tiles are kept; Compute again to resume.")
            return
        self.show_lists(summary.key_regions, summary.queue)
        self._say(f"{len(summary.key_regions)} key regions, {len(summary.queue)} tiles to "
                  "review. Click a row, or use Next / Previous.")

    def show_saved(self, event=None) -> None:
        """Show the heatmap and lists saved in the open slide's workspace, if any."""
        if event is not None and "slide_path" not in event.value.metadata:
            return  # a result layer (ours among them), not a slide
        layer = slide_layer_of(self.viewer)
        if layer is None or self._heat_layer is not None:
            return
        workspace = Workspace.find(layer.metadata["slide_path"])
        store = open_heatmap(workspace) if workspace is not None else None
        if store is None:
            return
        self._show_heatmap(store, layer.metadata["slide_path"])
        saved = load_explanation(workspace.root)
        if saved is not None:
            self.show_lists(saved[0], saved[1])

    def _show_heatmap(self, store, slide_path: str) -> None:
        from napari.layers import Layer

        self._slide_mpp = tuple(store.spec.slide_mpp)
        if self._heat_layer is not None and self._heat_layer in self.viewer.layers:
            self.viewer.layers.remove(self._heat_layer)
        self._heat_layer = self.viewer.add_layer(Layer.create(*heatmap_layer_data(store,
                                                                                   slide_path)))
        show_colorbar(self._heat_layer)

    def show_lists(self, regions: list, queue: list) -> None:
        """Fill the tables and draw the two Shapes layers."""
        from napari.layers import Layer

        self.lists = {KEY_REGIONS_NAME: list(regions), QUEUE_NAME: list(queue)}
        for name, items in reversed(self.lists.items()):  # key regions drawn on top
            table = self.tables[name]
            table.setRowCount(len(items))
            for row, item in enumerate(items):
                for col, field in enumerate(COLUMNS[name]):
                    value = getattr(item, field)
                    text = str(value + 1) if field == "rank" else f"{value:.3f}"
                    table.setItem(row, col, QTableWidgetItem(text))
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
            if items:
                data = regions_layer_data(items, self._slide_mpp, name, COLOURS[name])
                self.viewer.add_layer(Layer.create(*data))

    def go_to(self, name: str, row: int) -> None:
        """Centre on row ``row`` of list ``name``; key regions at 40x-equivalent zoom."""
        items = self.lists[name]
        if not 0 <= row < len(items):
            return
        self.tabs.setCurrentWidget(self.tables[name])
        self.tables[name].selectRow(row)
        canvas = tuple(int(v) for v in self.viewer.canvas.size)  # (h, w) screen px
        zoom = ZOOM_40X if name == KEY_REGIONS_NAME else None
        centre, zoom = camera_for(items[row].box, self._slide_mpp, canvas, zoom)
        self.viewer.scene.camera.center = centre
        self.viewer.scene.camera.zoom = zoom

    def step(self, delta: int) -> None:
        """Go to the next (``delta`` 1) or previous (-1) row of the current list."""
        name = self.tabs.tabText(self.tabs.currentIndex())
        current = self.tables[name].currentRow()
        self.go_to(name, 0 if current < 0 else min(max(current + delta, 0),
                                                    len(self.lists[name]) - 1))

    def export(self, path: str | Path) -> Path:
        """Write the current list (key regions or review queue) to ``path`` (.csv, .geojson)."""
        name = self.tabs.tabText(self.tabs.currentIndex())
        return export_regions(self.lists[name], path, self._slide_mpp)

    def _export_dialog(self, pattern: str, suffix: str) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the list", "", pattern)
        if path:
            path = path if path.endswith(suffix) else path + suffix
            self._say(f"Written to {self.export(path)}")

    def _remember_viewport(self, event=None) -> None:
        layer = slide_layer_of(self.viewer)
        self._viewport = viewport_box(layer) if layer is not None else None

    def _set_running(self, running: bool) -> None:
        self.compute_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _say(self, message: str) -> None:
        self.status.setText(message)
