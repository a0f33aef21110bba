"""A slide whose file states no µm/px: the Segment dock asks, and every layer ends up in µm."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_histoseg._qt.slide_widget import SlideWidget
from tests._qt.conftest import open_segment_dock, run_to_end
from tests.conftest import tissue_like_rgb, write_pyramid_tiff


@pytest.fixture
def no_mpp_slide(tmp_path):
    return write_pyramid_tiff(tmp_path / "no-mpp.tif", tissue_like_rgb((768, 1024)), mpp=None,
                              levels=2, tile=256)


def world_extent(layer) -> np.ndarray:
    return np.asarray(layer.extent.world, dtype=float)[:, -2:]


def test_entered_mpp_puts_image_and_mask_in_the_same_units_and_extent(
        qtbot, make_napari_viewer, no_mpp_slide, checkpoint):
    viewer, dock = open_segment_dock(make_napari_viewer, no_mpp_slide, checkpoint)
    assert dock.slide_mpp_row.isVisibleTo(dock) and dock.slide_mpp_row.value() is None
    dock.start()
    assert dock.worker is None and "states no µm/px" in dock.status.text()

    dock.slide_mpp_row.box.setValue(0.5)
    dock.start()
    summary = run_to_end(qtbot, dock)
    assert summary.tiles_computed == summary.tiles_planned > 0

    image, mask = viewer.layers["no-mpp.tif"], viewer.layers["Tumour mask"]
    assert tuple(image.scale) == pytest.approx((0.5, 0.5))
    assert tuple(mask.scale) == pytest.approx((1.0, 1.0))  # the checkpoint's 1 µm/px
    assert [str(u) for u in image.units] == [str(u) for u in mask.units]
    assert viewer.layers.extent.units is not None  # napari's "inconsistent units" test
    np.testing.assert_allclose(world_extent(mask), world_extent(image), atol=0.5)
    np.testing.assert_allclose(world_extent(image), [[0, 0], [767 * 0.5, 1023 * 0.5]])  # pixel centres


def test_the_objective_power_prefills_the_slide_mpp(make_napari_viewer, tmp_path, checkpoint):
    path = tmp_path / "appmag-only.svs"
    tifffile.imwrite(path, tissue_like_rgb((256, 384)), tile=(128, 128), photometric="rgb",
                     description="Aperio Image Library v10.0.50\r\n384x256 [0,0 384x256] "
                                 "(128x128) JPEG/RGB Q=30|AppMag = 20")
    viewer, dock = open_segment_dock(make_napari_viewer, path, checkpoint)
    assert dock.slide_mpp_row.isVisibleTo(dock)
    assert dock.slide_mpp_row.value() == pytest.approx(0.5)
    assert "20x objective" in dock.slide_mpp_row.note.text()
    slide_dock = SlideWidget(viewer)
    shown = " ".join(label.text() for label in slide_dock.findChildren(type(dock.status)))
    assert "unknown" in shown and "20x objective suggests about 0.5 µm/px" in shown


def test_a_slide_that_states_its_mpp_is_not_asked_about(make_napari_viewer, pyramid_tiff,
                                                        checkpoint):
    _, dock = open_segment_dock(make_napari_viewer, pyramid_tiff, checkpoint)
    assert not dock.slide_mpp_row.isVisibleTo(dock) and dock.slide_mpp_row.value() is None
