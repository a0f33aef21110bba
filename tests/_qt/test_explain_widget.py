"""The Explain dock: heatmap layer with a colour bar, region lists, jumps and exports."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from napari_histoseg._qt.explain_layers import HEATMAP_NAME, KEY_REGIONS_NAME, QUEUE_NAME
from napari_histoseg._qt.explain_widget import ExplainWidget
from napari_histoseg.models.registry import ModelConfig, create_model, save_checkpoint
from tests._qt.conftest import RUN_TIMEOUT_MS
from tests.conftest import tissue_like_rgb, write_pyramid_tiff


@pytest.fixture
def tumour_everywhere(tmp_path):
    """A tiny HI-Net whose head calls every pixel tumour, so every tile has a heatmap."""
    torch.manual_seed(0)
    model = create_model("hinet", size="tiny")
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([0.0, 20.0]))
    config = ModelConfig(architecture="hinet", hyperparameters={"size": "tiny"},
                         class_names=("non-tumour", "tumour"),
                         class_colors=("#000000", "#00ff00"), input_mpp=1.0, tile_size=128)
    return save_checkpoint(model, config, tmp_path / "models" / "tumour.safetensors")


@pytest.fixture
def explained(qtbot, make_napari_viewer, tmp_path, tumour_everywhere):
    """A viewer with a 512² slide at 0.5 µm/px and an Explain dock that has run."""
    slide = write_pyramid_tiff(tmp_path / "slide.tif", tissue_like_rgb((512, 512)), levels=2,
                               tile=128)
    viewer = make_napari_viewer()
    viewer.open(str(slide), plugin="napari-histoseg")
    dock = ExplainWidget(viewer)
    dock.select_model(tumour_everywhere)
    dock.device_box.setCurrentText("cpu")
    dock.window_box.setValue(32)
    dock.start()
    qtbot.waitUntil(dock.compute_button.isEnabled, timeout=RUN_TIMEOUT_MS)
    assert dock.last_summary is not None, dock.status.text()
    return viewer, dock


def test_heatmap_layer_lines_up_with_the_slide_and_has_a_colour_bar(explained):
    viewer, dock = explained
    heat = viewer.layers[HEATMAP_NAME]
    slide = next(layer for layer in viewer.layers if "slide_path" in layer.metadata)
    assert tuple(heat.scale) == (1.0, 1.0) and tuple(slide.scale) == (0.5, 0.5)
    assert tuple(heat.translate) == (0.25, 0.25)  # a 1 µm pixel centred on two 0.5 µm ones
    assert heat.colorbar.visible and heat.contrast_limits == [0.0, 1.0]
    values = np.asarray(heat.data[0])
    assert np.nanmax(values) > 0.5 and np.nanmin(values) >= 0.0


def test_lists_fill_the_tables_and_the_shapes_layers(explained):
    viewer, dock = explained
    regions, queue = dock.lists[KEY_REGIONS_NAME], dock.lists[QUEUE_NAME]
    assert regions and queue
    assert dock.tables[KEY_REGIONS_NAME].rowCount() == len(regions)
    shapes = viewer.layers[KEY_REGIONS_NAME]
    assert len(shapes.data) == len(regions)
    y0, x0, y1, x1 = regions[0].box
    corners = shapes.data[0]
    assert corners[:, 0].min() == y0 and corners[:, 1].max() == x1
    assert list(shapes.features["label"])[0].startswith("1: ")
    assert len(viewer.layers[QUEUE_NAME].data) == len(queue)


def test_a_click_centres_on_the_region_at_40x_and_next_moves_on(explained):
    viewer, dock = explained
    dock.go_to(KEY_REGIONS_NAME, 0)
    y0, x0, y1, x1 = dock.lists[KEY_REGIONS_NAME][0].box
    assert tuple(viewer.scene.camera.center[-2:]) == pytest.approx(((y0 + y1) / 4, (x0 + x1) / 4))
    assert viewer.scene.camera.zoom == pytest.approx(4.0)  # 0.25 µm per screen px
    dock.step(1)
    assert dock.tables[KEY_REGIONS_NAME].currentRow() == min(1, len(dock.lists[KEY_REGIONS_NAME]) - 1)
    dock.tabs.setCurrentIndex(1)
    dock.step(1)  # nothing selected in the queue yet: its first tile, fitted to the canvas
    box = dock.lists[QUEUE_NAME][0].box
    assert tuple(viewer.scene.camera.center[-2:]) == pytest.approx(
        ((box[0] + box[2]) / 4, (box[1] + box[3]) / 4))


def test_export_writes_the_current_list(explained, tmp_path):
    _, dock = explained
    path = dock.export(tmp_path / "regions.csv")
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == len(dock.lists[KEY_REGIONS_NAME]) and rows[0]["rank"] == "0"


def test_a_new_dock_shows_what_the_workspace_holds(explained):
    viewer, dock = explained
    for name in (HEATMAP_NAME, KEY_REGIONS_NAME, QUEUE_NAME):
        viewer.layers.remove(name)
    again = ExplainWidget(viewer)
    assert HEATMAP_NAME in viewer.layers
    assert again.lists[KEY_REGIONS_NAME] == dock.lists[KEY_REGIONS_NAME]


def test_cancel_keeps_nothing_half_shown_and_compute_again_finishes(
        qtbot, make_napari_viewer, tmp_path, tumour_everywhere):
    slide = write_pyramid_tiff(tmp_path / "slide.tif", tissue_like_rgb((512, 512)), levels=2,
                               tile=128)
    viewer = make_napari_viewer()
    viewer.open(str(slide), plugin="napari-histoseg")
    dock = ExplainWidget(viewer)
    dock.select_model(tumour_everywhere)
    dock.device_box.setCurrentText("cpu")
    dock.start()
    dock.cancel()  # before the first batch
    qtbot.waitUntil(dock.compute_button.isEnabled, timeout=RUN_TIMEOUT_MS)
    assert dock.last_summary.cancelled and dock.status.text().startswith("Cancelled")
    assert KEY_REGIONS_NAME not in viewer.layers and not dock.lists[KEY_REGIONS_NAME]
    dock.start()
    qtbot.waitUntil(dock.compute_button.isEnabled, timeout=RUN_TIMEOUT_MS)
    assert not dock.last_summary.cancelled and dock.lists[KEY_REGIONS_NAME]
