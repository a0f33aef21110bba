"""Key regions: peak windows of a heatmap, suppressed, mapped to level 0 and ranked."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from napari_histoseg.explain import key_regions
from napari_histoseg.explain.key_regions import find_key_regions


def blob(shape, centre, sigma):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * sigma ** 2))


def test_two_peaks_come_out_best_first_as_disjoint_level0_boxes():
    heat = 0.9 * blob((512, 768), (100, 600), 20) + 0.5 * blob((512, 768), (400, 150), 20)
    regions = find_key_regions(heat, window=128, downsample=4.0, origin=(1000.0, 2000.0),
                               max_regions=5)
    first, second = regions[0], regions[1]
    assert first.rank == 0 and first.score > second.score
    for region, (cy, cx) in ((first, (100, 600)), (second, (400, 150))):
        y0, x0, y1, x1 = region.box
        assert (y1 - y0, x1 - x0) == (512.0, 512.0)
        assert y0 < 1000 + 4 * cy < y1 and x0 < 2000 + 4 * cx < x1
    boxes = np.array([r.box for r in regions])
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            overlap_y = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
            overlap_x = min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1])
            assert overlap_y <= 0 or overlap_x <= 0, "suppressed boxes must not overlap"
    assert [r.score for r in regions] == sorted((r.score for r in regions), reverse=True)


def test_tumour_probability_reorders_the_peaks():
    heat = 0.9 * blob((256, 512), (128, 64), 15) + 0.6 * blob((256, 512), (128, 448), 15)
    tumour = np.zeros_like(heat)
    tumour[:, 256:] = 1.0
    best = find_key_regions(heat, tumour, window=64, max_regions=1)[0]
    assert best.box[1] >= 256 and best.tumour == pytest.approx(1.0)
    assert best.score == pytest.approx(best.mass * best.tumour)


def test_not_computed_pixels_add_nothing_and_empty_maps_give_nothing():
    heat = np.full((256, 256), np.nan)
    heat[:, :128] = 0.0
    heat[10:40, 10:40] = 1.0
    regions = find_key_regions(heat, window=64)
    assert len(regions) == 1 and regions[0].box[3] <= 128
    assert find_key_regions(np.zeros((64, 64))) == []
    assert find_key_regions(np.full((64, 64), np.nan)) == []


def test_a_map_smaller_than_the_window_gives_one_box_within_the_map():
    heat = np.ones((20, 50))
    (region,) = find_key_regions(heat, window=128, stride=32)
    assert region.box == (0.0, 0.0, 20.0, 50.0) and region.score == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"stride": 48}, "must be >= 1 and divide"),
    ({"window": 0}, "window must be at least 1"),
    ({"max_iou": 1.0}, "max_iou"),
])
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        find_key_regions(np.ones((64, 64)), **kwargs)


def test_mismatched_tumour_map_is_refused():
    with pytest.raises(ValueError, match="tumour map shape"):
        find_key_regions(np.ones((64, 64)), np.ones((32, 64)))


def test_module_example_runs():
    failures, _ = doctest.testmod(key_regions)
    assert failures == 0
