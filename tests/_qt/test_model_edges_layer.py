"""A fusion run from the Segment dock on a paired slide adds the "CK5/6 edges (model)" layer."""

from __future__ import annotations

import pytest

from napari_histoseg._qt.model_edges_layer import MODEL_EDGES_LAYER, MODEL_EDGES_OF_KEY, show_model_edges
from napari_histoseg.io.identity import slide_identity
from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.io.workspace import Workspace
from napari_histoseg.models.catalog import FUSION_CHECKPOINT
from napari_histoseg.pairing import Pairing, save_pairing
from napari_histoseg.registration import Registration
from tests._qt.conftest import open_segment_dock


@pytest.fixture
def paired(tmp_path):
    """A 512² synthetic pair at 2 µm/px with its CK5/6 paired in the H&E's workspace."""
    pair = generate_pair(tmp_path / "pair", SynthConfig(size=(512, 512), mpp=2.0, seed=3))
    root = Workspace.open(pair.he_path).root
    save_pairing(root, Pairing(pair.ck56_path, slide_identity(pair.ck56_path),
                               Registration(pair.affine, 1.0, 0.5, 20, 20)))
    return pair, root


@pytest.mark.slow
def test_fusion_run_adds_the_model_edge_layer_once(make_napari_viewer, qtbot, paired):
    pair, root = paired
    viewer, dock = open_segment_dock(make_napari_viewer, pair.he_path, FUSION_CHECKPOINT)
    dock.start()
    qtbot.waitUntil(dock.segment_button.isEnabled, timeout=300_000)   # segment, then the edge map
    summary = dock.last_summary
    assert summary is not None and not summary.cancelled
    qtbot.waitUntil(lambda: any(layer.name == MODEL_EDGES_LAYER for layer in viewer.layers), timeout=30_000)
    [layer] = [layer for layer in viewer.layers if layer.metadata.get(MODEL_EDGES_OF_KEY)]
    assert layer.name == MODEL_EDGES_LAYER and layer.blending == "additive"
    assert tuple(layer.scale[-2:]) == (2.0, 2.0) and layer.colormap.name == "magenta"
    assert layer.metadata[MODEL_EDGES_OF_KEY] == str(pair.he_path)
    assert show_model_edges(viewer, str(pair.he_path), root) is layer          # refreshed, not doubled
    assert sum(layer.name == MODEL_EDGES_LAYER for layer in viewer.layers) == 1


def test_no_layer_without_a_model_edge_map(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    assert show_model_edges(viewer, "slide.tif", tmp_path) is None
    assert len(viewer.layers) == 0
