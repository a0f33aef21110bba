"""CAMELYON17 categories, with both sides of 0.2 mm and 2 mm measured on masks."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg.report.category import ITC, MACRO, MICRO, NONE, camelyon17_category
from napari_histoseg.report.slide_report import build_report

from .report_data import write_results


@pytest.mark.parametrize("diameter_um, category", [
    (None, NONE), (0.0, ITC), (200.0, ITC), (np.nextafter(200.0, 0), ITC),
    (200.000002, MICRO), (2000.0, MICRO), (2000.000002, MACRO), (1e5, MACRO)])
def test_category_limits_belong_to_the_smaller_category(diameter_um, category):
    assert camelyon17_category(diameter_um) == category


def test_a_negative_diameter_is_refused():
    with pytest.raises(ValueError, match="negative"):
        camelyon17_category(-1.0)


def line_lesion(tmp_path, pixels: int, mpp: float, vertical: bool = False):
    """A workspace whose only lesion is a one-pixel-wide line of ``pixels`` px."""
    mask = np.zeros((8, pixels + 8), np.uint8)
    mask[4, 4:4 + pixels] = 1
    mask = mask.T.copy() if vertical else mask
    write_results(tmp_path / f"ws-{pixels}-{mpp}-{vertical}", mask, mpp=mpp, tile_size=256)
    return build_report(tmp_path / f"ws-{pixels}-{mpp}-{vertical}")


@pytest.mark.parametrize("pixels, mpp, category", [
    (200, 1.0, ITC), (201, 1.0, MICRO),             # 200 µm; 201 µm
    (250, 0.8, ITC), (251, 0.8, MICRO),             # 0.8 µm/px: measured 200.00000000000003
    (2000, 1.0, MICRO), (2001, 1.0, MACRO),
    (2500, 0.8, MICRO), (2501, 0.8, MACRO)])        # measured 2000.0000000000002
def test_category_of_a_mask_on_both_sides_of_each_limit(tmp_path, pixels, mpp, category):
    report = line_lesion(tmp_path, pixels, mpp, vertical=pixels % 2 == 1)
    assert report.largest.diameter_um == pytest.approx(pixels * mpp)
    assert report.category == category


@pytest.mark.parametrize("pixels, limit", [(250, 200.0), (2500, 2000.0)])
def test_rounding_of_the_measured_diameter_does_not_cross_a_limit(tmp_path, pixels, limit):
    report = line_lesion(tmp_path, pixels, 0.8)
    assert report.largest.diameter_um > limit        # n x 0.8 µm lands just above the limit
    assert report.category == (ITC if limit == 200.0 else MICRO)


def test_a_slide_without_tumour_is_none(tmp_path):
    write_results(tmp_path / "ws", np.zeros((50, 60), np.uint8))
    report = build_report(tmp_path / "ws")
    assert report.lesions == () and report.largest is None and report.category == NONE
