"""Fixtures for the dock tests: a tiny checkpoint and a Segment dock on a slide."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_histoseg._qt.segment_widget import SegmentWidget
from napari_histoseg.models.registry import ModelConfig, create_model, save_checkpoint

RUN_TIMEOUT_MS = 120_000


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    """A tiny untrained HI-Net checkpoint at 1 µm/px with 256 px tiles."""
    config = ModelConfig(architecture="hinet", hyperparameters={"size": "tiny"},
                         class_names=("non-tumour", "tumour"),
                         class_colors=("#000000", "#00ff00"), input_mpp=1.0, tile_size=256)
    return save_checkpoint(create_model("hinet", size="tiny"), config,
                           tmp_path / "models" / "tiny.safetensors")


def open_segment_dock(viewer_factory, slide: Path, checkpoint_path: Path):
    """A viewer with ``slide`` open and a Segment dock set to the checkpoint, on the CPU."""
    viewer = viewer_factory()
    viewer.open(str(slide), plugin="napari-histoseg")
    dock = SegmentWidget(viewer)
    dock.select_model(checkpoint_path)
    dock.halo_box.setValue(32)
    dock.device_box.setCurrentText("cpu")
    return viewer, dock


@pytest.fixture
def dock(make_napari_viewer, pyramid_tiff, checkpoint) -> SegmentWidget:
    return open_segment_dock(make_napari_viewer, pyramid_tiff, checkpoint)[1]


def run_to_end(qtbot, widget: SegmentWidget):
    """Wait until the run ends (the Segment button comes back); its summary."""
    qtbot.waitUntil(widget.segment_button.isEnabled, timeout=RUN_TIMEOUT_MS)
    return widget.last_summary
