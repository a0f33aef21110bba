"""Pairing a CK5/6 slide in the Slide dock: registered overlay, edges, quality, nudge, restore."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from napari_histoseg._qt.pairing_panel import EDGES_OF_KEY
from napari_histoseg._qt.slide_widget import SlideWidget
from napari_histoseg.io.synthetic import SynthConfig, generate_pair

TIMEOUT_MS = 180_000


@pytest.fixture
def pair(tmp_path):
    return generate_pair(tmp_path / "pair", SynthConfig(size=(1024, 1024), mpp=2.0, seed=3))


def _world(layer, data_yx) -> np.ndarray:
    """World (µm) position of a level-0 data point of ``layer``."""
    return np.asarray(layer.data_to_world(data_yx))[-2:]


def test_pairing_registers_shows_edges_nudges_and_restores(make_napari_viewer, qtbot, pair):
    viewer = make_napari_viewer()
    widget = SlideWidget(viewer)
    [he_layer] = viewer.open(str(pair.he_path), plugin="napari-histoseg")
    ck56_layer = widget.open_paired_slide(pair.ck56_path)
    qtbot.waitUntil(lambda: not widget.pairing.busy, timeout=TIMEOUT_MS)
    assert widget.pairing.status.text().startswith("registration good"), widget.pairing.status.text()
    # the CK5/6 pixel that shows H&E pixel p lands where p does, within 2 H&E px (4 µm)
    p = np.array([600.0, 450.0])
    ck_point = (pair.affine @ np.r_[p, 1])[:2]
    np.testing.assert_allclose(_world(ck56_layer, ck_point), p * 2.0, atol=4.0)
    [edges] = [layer for layer in viewer.layers if layer.metadata.get(EDGES_OF_KEY)]
    assert edges.blending == "additive" and tuple(edges.scale[-2:]) == (2.0, 2.0)
    before = _world(ck56_layer, ck_point)
    widget.pairing.dy_box.setValue(10.0)
    widget.pairing.apply_nudge()
    qtbot.waitUntil(lambda: not widget.pairing.busy, timeout=TIMEOUT_MS)
    np.testing.assert_allclose(_world(ck56_layer, ck_point) - before, [10.0, 0.0], atol=1e-6)

    again = make_napari_viewer()
    restored_widget = SlideWidget(again)
    again.open(str(pair.he_path), plugin="napari-histoseg")
    [restored] = [layer for layer in again.layers if layer.metadata.get("role") == "ck56"]
    np.testing.assert_allclose(_world(restored, ck_point), _world(ck56_layer, ck_point), atol=1e-6)
    assert any(layer.metadata.get(EDGES_OF_KEY) for layer in again.layers)
    assert "registration good" in restored_widget.pairing.status.text()


def test_blank_ck56_is_reported_in_the_dock(make_napari_viewer, qtbot, pair, tmp_path):
    import tifffile

    blank = tmp_path / "blank.tif"
    tifffile.imwrite(blank, np.full((1024, 1024, 3), 245, np.uint8), tile=(256, 256), photometric="rgb",
                     resolution=(1e4 / 2.0, 1e4 / 2.0), resolutionunit="CENTIMETER")
    viewer = make_napari_viewer()
    widget = SlideWidget(viewer)
    viewer.open(str(pair.he_path), plugin="napari-histoseg")
    widget.open_paired_slide(blank)
    qtbot.waitUntil(lambda: not widget.pairing.busy, timeout=TIMEOUT_MS)
    assert widget.pairing.status.text().startswith("Not registered:")
    assert "blank.tif: no tissue found" in widget.pairing.status.text()
