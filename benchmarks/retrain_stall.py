"""The longest GUI stall while the Retrain dock trains (child process) and compares models.

A 10 ms QTimer records when it fires; the longest gap between ticks is the
longest time napari's event loop was blocked. The baseline is the same timer
in the same viewer while idle, measured in the same run. Data: 12 blob images
(96², 1 µm/px) built into a dataset in a temporary folder; model: the bundled
tiny HI-Net fine-tuned for 4 epochs, then old and new scored on the test split.

Run:  .venv/bin/python benchmarks/retrain_stall.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pyvirtualdisplay import Display

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.gui_stall import IDLE_S, tick_gaps  # noqa: E402

EPOCHS = 4


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="retrain-stall-"))
    os.environ["HISTOSEG_LIBRARY"] = str(scratch / "library")
    os.environ["HISTOSEG_RUNS"] = str(scratch / "runs")
    from tests.training_data import build_blob_dataset

    dataset = build_blob_dataset(scratch / "dataset")
    import napari

    from napari_histoseg._qt.retrain_widget import RetrainWidget

    viewer = napari.Viewer(show=True)
    dock = RetrainWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Retrain")
    dock.data_edit.setText(str(dataset))
    dock.epochs_box.setValue(EPOCHS)
    start = time.perf_counter()
    idle = tick_gaps(lambda: time.perf_counter() - start > IDLE_S)
    start = time.perf_counter()
    dock.start()
    running = tick_gaps(lambda: not dock.running())
    elapsed = time.perf_counter() - start
    print(f"{EPOCHS} epochs in a child process and the comparison: {elapsed:.1f} s; {dock.status.text()}")
    viewer.close()
    ordered = sorted(running)
    print(f"idle:    longest gap {max(idle) * 1000:.0f} ms, median {statistics.median(idle) * 1000:.1f} ms")
    print(f"running: longest gap {ordered[-1] * 1000:.0f} ms, second {ordered[-2] * 1000:.0f} ms, "
          f"99th percentile {ordered[int(len(ordered) * 0.99)] * 1000:.0f} ms, median "
          f"{statistics.median(running) * 1000:.1f} ms; ratio longest running/idle "
          f"{max(running) / max(idle):.1f}")


if __name__ == "__main__":
    with Display(visible=False, size=(1400, 900)):
        main()
