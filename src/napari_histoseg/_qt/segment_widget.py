"""The Segment dock: run the tiled engine in a worker thread and show the mask as it fills in.

The widget only gathers choices and shows results. The run itself is
``inference.session``'s generator, wrapped in napari's ``create_worker``;
cancelling sets an event that the engine checks between batches.

Nothing slow runs on the GUI thread: models and devices are listed by a
worker (torch is imported there), the worker re-reads the result chunks that
each batch changed (``io.display_cache``) and hands the GUI one event per
batch, and result layers are made once per slide and reused by later runs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                            QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from napari_histoseg._qt.background import (Planned, batch_events, display_view,
                                           yield_cpu_to_the_gui)
from napari_histoseg._qt.layers import (build_result_layers, displayed_px, in_later_turns,
                                       place_slide_layer, result_kinds_shown, show_results,
                                       slide_layer_of, viewport_box)
from napari_histoseg._qt.legend import ClassLegend
from napari_histoseg._qt.model_edges_layer import ModelEdgesReady, model_edge_steps, show_model_edges
from napari_histoseg._qt.model_choices import fill_boxes, list_choices
from napari_histoseg._qt.progress_bar import DeferredProgressBar
from napari_histoseg._qt.slide_mpp_row import SlideMppRow
from napari_histoseg.inference.events import BatchSizeReduced, Progress
from napari_histoseg.inference.flip_views import VIEWS
from napari_histoseg.inference.session import (SegmentRequest, prepare_run, restrict_to_box,
                                                start_run)
from napari_histoseg.io.display_cache import ResultView  # noqa: TC001 - in annotations
from napari_histoseg.io.workspace import workspace_dir_for
from napari_histoseg.pairing import fusion_wanted

if TYPE_CHECKING:
    import napari

WHOLE_SLIDE, VISIBLE_ONLY = "Whole slide (visible region first)", "Visible region only"
REFRESH_INTERVAL_S = 0.5


class SegmentWidget(QWidget):
    """Model, resolution, tiling and device choices; Segment and Cancel; a progress bar."""

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self._cancel = threading.Event()
        self._layers_shown = threading.Event()
        self._viewport = None
        self._screen_px = 0  # pixels of the slide's displayed level on screen
        self._last_refresh = 0.0
        self._result_layers: list = []
        self._views: dict[str, ResultView] = {}  # per slide path, the last run's display cache
        self._out_dir: Path | None = None
        self._build_form()
        self._hooks = [(self.viewer.scene.camera.events.center, self._remember_viewport),
                       (self.viewer.scene.camera.events.zoom, self._remember_viewport),
                       (self.viewer.layers.events.inserted, self.show_results_folder)]
        self._hooks += [(emitter, self._on_slide_changed) for emitter in (
            self.viewer.layers.events.inserted, self.viewer.layers.events.removed,
            self.viewer.layers.selection.events.active)]
        for emitter, callback in self._hooks:
            emitter.connect(callback)
        self._on_slide_changed()
        self.show_results_folder()
        self._list_choices()

    # --- layout -------------------------------------------------------------------------
    def _build_form(self) -> None:
        self.model_box = QComboBox()
        self.model_box.setToolTip("A trained checkpoint, or an architecture with random weights")
        browse = QPushButton("…")
        browse.setToolTip("Choose a .safetensors checkpoint")
        browse.clicked.connect(self._browse_checkpoint)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_box, 1)
        model_row.addWidget(browse)
        self.mpp_box = _spin(QDoubleSpinBox(), 0.0, 64.0, 0.0, "model's µm/px", decimals=3)
        self.tile_box = _spin(QSpinBox(), 0, 4096, 0, "model's", step=64)
        self.halo_box = _spin(QSpinBox(), 0, 512, 64, None, step=16)
        self.batch_box = _spin(QSpinBox(), 1, 256, 8, None)
        self.flips_box = QComboBox()
        self.flips_box.addItem("model's", None)
        for views in sorted(VIEWS):
            self.flips_box.addItem("1 (fastest)" if views == 1 else str(views), views)
        self.flips_box.setToolTip("Average each tile's prediction over flipped copies: more "
                                  "accurate, one forward pass per view")
        self.device_box = QComboBox()
        self.device_box.addItems(["auto", "cpu"])  # cuda and mps join once probed
        self.slide_mpp_row = SlideMppRow()
        self.scope_box = QComboBox()
        self.scope_box.addItems([WHOLE_SLIDE, VISIBLE_ONLY])
        self.probabilities_box = QCheckBox("Show tumour probability")
        self.restart_box = QCheckBox("Start over (discard earlier results of another model)")
        self.segment_button = QPushButton("Segment")
        self.segment_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.folder_label = QLabel()
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        choose_folder = QPushButton("…")
        choose_folder.setToolTip("Store the results in another folder")
        choose_folder.clicked.connect(self._browse_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_label, 1)
        folder_row.addWidget(choose_folder)
        self.progress = DeferredProgressBar()
        self.status = QLabel("Open a slide, choose a model and press Segment.")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Model:", model_row)
        form.addRow("Resolution (µm/px):", self.mpp_box)
        form.addRow("Tile size (px):", self.tile_box)
        form.addRow("Overlap per side (px):", self.halo_box)
        form.addRow("Batch size:", self.batch_box)
        form.addRow("Flipped views:", self.flips_box)
        form.addRow("Device:", self.device_box)
        form.addRow("Region:", self.scope_box)
        form.addRow("Results folder:", folder_row)
        buttons = QHBoxLayout()
        buttons.addWidget(self.segment_button)
        buttons.addWidget(self.cancel_button)
        self.batch_button = QPushButton("Batch…")
        self.batch_button.setToolTip("Segment a folder or manifest of slides on dask.distributed")
        self.batch_button.clicked.connect(self.open_batch)
        buttons.addWidget(self.batch_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.slide_mpp_row)
        layout.addLayout(form)
        layout.addWidget(self.probabilities_box)
        layout.addWidget(self.restart_box)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.legend = ClassLegend()
        layout.addWidget(self.legend)
        layout.addStretch()

    def _list_choices(self) -> None:
        """List models and devices in a worker; fill the boxes when they arrive."""
        from napari.qt.threading import create_worker

        self._choices_worker = create_worker(list_choices, _ignore_errors=True)
        self._choices_worker.returned.connect(
            lambda choices: fill_boxes(self.model_box, self.device_box, choices))
        self._choices_worker.errored.connect(
            lambda error: self._say(f"Could not list the models: {error}"))
        self._choices_worker.start()

    def _browse_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a checkpoint", "",
                                              "Checkpoints (*.safetensors)")
        if path:
            self.select_model(path)

    def select_model(self, source: str | Path) -> None:
        """Choose a checkpoint path or architecture name, adding it to the list if new."""
        index = self.model_box.findData(str(source))
        if index < 0:
            self.model_box.addItem(Path(source).stem, str(source))
            index = self.model_box.count() - 1
        self.model_box.setCurrentIndex(index)

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Store the results in")
        if folder:
            self.choose_results_folder(folder)

    def choose_results_folder(self, folder: str | Path | None) -> None:
        """Store results in ``folder`` (None: the slide's default workspace)."""
        self._out_dir = Path(folder) if folder else None
        self.show_results_folder()

    def show_results_folder(self, event=None) -> None:
        """Show where the current slide's results are (or will be) stored."""
        layer = slide_layer_of(self.viewer)
        if layer is None:
            self.folder_label.setText(str(self._out_dir or "beside the slide"))
            return
        self.folder_label.setText(str(workspace_dir_for(layer.metadata["slide_path"],
                                                        self._out_dir)))

    def open_batch(self):
        """Open the Batch panel (``_qt/batch_widget.py``), which uses this dock's choices."""
        from napari_histoseg._qt.batch_widget import BatchWidget

        panel = BatchWidget(lambda: self.request(""))
        self.viewer.window.add_dock_widget(panel, name="Segment batch", area="right")
        return panel

    # --- running ------------------------------------------------------------------------
    def request(self, slide_path: str) -> SegmentRequest:
        """The user's choices as a SegmentRequest for ``slide_path``."""
        return SegmentRequest(
            slide_path=Path(slide_path), model=self.model_box.currentData() or None,
            mpp=self.mpp_box.value() or None, slide_mpp=self.slide_mpp_row.value(),
            tile_size=self.tile_box.value() or None,
            halo=self.halo_box.value(), batch_size=self.batch_box.value(),
            device=self.device_box.currentText(), restart=self.restart_box.isChecked(),
            out_dir=self._out_dir, publish_s=REFRESH_INTERVAL_S,
            ck56=fusion_wanted(slide_path, self.model_box.currentData(), self._out_dir),
            flips=self.flips_box.currentData())

    def start(self) -> None:
        """Plan and segment in a worker thread; the GUI keeps running."""
        from napari.qt.threading import create_worker

        layer = slide_layer_of(self.viewer)
        if layer is None:
            self._say("No slide is open: open or drop a slide first.")
            return
        if self.model_box.currentData() is None:
            self._say("The models are still being listed; choose one in a moment.")
            return
        if self.slide_mpp_row.needed and self.slide_mpp_row.value() is None:
            self._say("This slide's file states no µm/px: enter it in 'Slide µm/px' first.")
            return
        self._remember_viewport()
        self._forget_closed_slides()
        self.show_results_folder()
        self._cancel.clear()
        visible_only = self.scope_box.currentText() == VISIBLE_ONLY
        slide_path = layer.metadata["slide_path"]
        self.worker = create_worker(self._run, self.request(slide_path), visible_only,
                                    self.probabilities_box.isChecked(),
                                    result_kinds_shown(self.viewer, slide_path),
                                    _ignore_errors=True)
        self.worker.yielded.connect(self._on_event)
        self.worker.returned.connect(self._on_done)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self._set_running(True)
        self._say("Detecting tissue and planning tiles…")
        self.worker.start()

    def _run(self, request: SegmentRequest, visible_only: bool, show_probability: bool,
             shown: frozenset[str]):
        """Worker-thread generator: first the PreparedRun, then the engine's events.
        ``shown``: kinds of result layers the viewer has for the slide already."""
        import pandas  # noqa: F401 - napari imports it for the first Labels layer; pay here, off the GUI thread

        yield_cpu_to_the_gui()

        warnings: list[str] = []
        prepared = prepare_run(request, warn=warnings.append)
        if visible_only and self._viewport is not None:
            prepared = replace(prepared, plan=restrict_to_box(prepared.plan, self._viewport))
        key = str(request.slide_path)
        view = display_view(prepared.plan.store, show_probability, self._views.get(key))
        self._views[key] = view
        viewport, screen_px = self._viewport, self._screen_px
        if viewport is not None:  # what the layers' first draw reads, read here
            view.warm_box(viewport, max_px=2 * screen_px)
        done = int(prepared.plan.store.done_tiles().ravel()[prepared.plan.tiles].sum())
        self._layers_shown.clear()
        yield Planned(prepared, view, build_result_layers(view, key, shown), done, warnings)
        self._layers_shown.wait(timeout=10)  # napari adds layers faster with the CPU to itself
        run = start_run(prepared, viewport=lambda: self._viewport, cancel=self._cancel)
        summary = yield from batch_events(run, view)
        if not summary.cancelled:
            yield from model_edge_steps(prepared, self._cancel)
        return summary

    def cancel(self) -> None:
        """Stop after the current batch; finished tiles are kept for a later resume."""
        self._cancel.set()
        self._say("Cancelling after the current batch…")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Closing the dock stops its run and disconnects it from the viewer."""
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Cancel a running segmentation, wait for it to stop, and disconnect every hook."""
        if self.worker is not None and self.worker.is_running:
            self._cancel.set()
            self._layers_shown.set()  # a worker waiting for its layers goes on, and stops
            self.worker.quit()
            deadline = time.monotonic() + timeout_s
            while self.worker.is_running and time.monotonic() < deadline:
                time.sleep(0.02)
        for emitter, callback in self._hooks:
            emitter.disconnect(callback)
        self._hooks = []

    # --- events (GUI thread) ------------------------------------------------------------
    def _on_event(self, event) -> None:
        if isinstance(event, Planned):
            self._on_planned(event)
        elif isinstance(event, Progress):
            self.progress.setMaximum(max(event.total, 1))
            self.progress.setValue(event.done)
            self._say(f"{event.done} / {event.total} tiles, {event.elapsed_s:.0f} s")
            self._refresh_layers()
        elif isinstance(event, BatchSizeReduced):
            self._say(event.message)
        elif isinstance(event, ModelEdgesReady):
            show_model_edges(self.viewer, event.slide_path, event.root)

    def _on_planned(self, planned: Planned) -> None:
        prepared, done, warnings = planned.prepared, planned.done, planned.warnings
        self.progress.setMaximum(max(len(prepared.plan.tiles), 1))
        self.progress.setValue(done)
        slide_layer = self._running_slide_layer(str(prepared.slide.path))
        if slide_layer is not None:
            place_slide_layer(self.viewer, slide_layer, prepared.plan.store.spec.slide_mpp)
        spec = prepared.plan.store.spec
        self.legend.show_classes(tuple(spec.class_names), tuple(spec.class_colors))
        note = " ".join(warnings)
        self._say(f"{len(prepared.plan.tiles)} tissue tiles planned ({done} already done). "
                  + note)
        # a later turn of the event loop: adding a layer is the longest step on this thread,
        # and the repaint of what changed above comes in between
        in_later_turns([lambda: self._show_planned(planned)])

    def _show_planned(self, planned: Planned) -> None:
        """Add (first run) or re-point the result layers; the worker then starts the engine."""
        if not self._hooks:  # shut down in the meantime
            self._layers_shown.set()
            return
        try:  # the engine starts once the new layers are complete and drawn
            self._result_layers = show_results(self.viewer, planned.view,
                                               str(planned.prepared.slide.path), planned.layers,
                                               then=self._layers_shown.set)
        except Exception:
            self._layers_shown.set()
            raise

    def _on_done(self, summary) -> None:
        self._refresh_layers(force=True)
        verb = "Cancelled" if summary.cancelled else "Done"
        self._say(f"{verb}: {summary.tiles_computed} tiles computed, "
                  f"{summary.tiles_already_done} already done, in {summary.elapsed_s:.1f} s "
                  f"on {summary.device}. {summary.skipped_note}".rstrip())
        self.last_summary = summary

    def _on_error(self, error: Exception) -> None:
        from napari.utils.notifications import show_error

        self._say(f"Segmentation failed: {error}")
        show_error(f"Segmentation failed: {error}")

    def _on_finished(self) -> None:
        self._set_running(False)

    def _refresh_layers(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_refresh >= REFRESH_INTERVAL_S:
            self._last_refresh = now
            for layer in self._result_layers:
                layer.refresh()

    def _forget_closed_slides(self) -> None:
        """Drop the display caches of slides no longer open (each holds decoded chunks)."""
        open_paths = {layer.metadata.get("slide_path") for layer in self.viewer.layers}
        for path in [p for p in self._views if p not in open_paths]:
            del self._views[path]

    def _running_slide_layer(self, slide_path: str):
        return next((layer for layer in self.viewer.layers
                     if layer.metadata.get("slide_path") == slide_path), None)

    def _on_slide_changed(self, event=None) -> None:
        self.slide_mpp_row.show_for(slide_layer_of(self.viewer))

    def _remember_viewport(self, event=None) -> None:
        layer = slide_layer_of(self.viewer)
        self._viewport = viewport_box(layer) if layer is not None else None
        self._screen_px = displayed_px(layer) if layer is not None else 0

    def _set_running(self, running: bool) -> None:
        self.segment_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _say(self, message: str) -> None:
        self.status.setText(message)


def _spin(box, low, high, value, special: str | None, step=1, decimals: int | None = None):
    if decimals is not None:
        box.setDecimals(decimals)
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    if special:
        box.setSpecialValueText(special)
    return box
