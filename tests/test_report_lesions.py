"""Lesions, areas and diameters measured from masks with lesions of known size."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from napari_histoseg.report.diameters import max_feret_um, row_extreme_centres
from napari_histoseg.report.lesions import LesionScanner
from napari_histoseg.report.slide_report import build_report, iter_blocks

from .report_data import FUSION_CLASSES, disc, write_results


def scan(mask: np.ndarray, block: tuple[int, int], n_classes: int = 2):
    scanner = LesionScanner(mask.shape[1], n_classes)
    for y in range(0, mask.shape[0], block[0]):
        for x in range(0, mask.shape[1], block[1]):
            scanner.add((y, x), mask[y:y + block[0], x:x + block[1]])
    return scanner.finish()


@pytest.mark.parametrize("block", [(7, 5), (16, 16), (64, 13), (200, 300)])
def test_lesions_cut_by_blocks_are_those_of_the_whole_mask(block):
    rng = np.random.default_rng(4)
    mask = (ndimage.uniform_filter(rng.random((90, 110)), 5) > 0.55).astype(np.uint8)
    mask[rng.random(mask.shape) > 0.985] = 1          # single pixels, some touching diagonally
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    expected = sorted(np.bincount(labels.ravel())[1:].tolist(), reverse=True)
    found = scan(mask, block)
    assert [lesion.pixels for lesion in found] == expected
    whole = scan(mask, mask.shape)
    for cut, single in zip(found, whole):
        assert cut.box == single.box and cut.centroid == pytest.approx(single.centroid)
        assert max_feret_um(cut.centres, (1, 1)) == pytest.approx(
            max_feret_um(single.centres, (1, 1)))


def test_pixels_touching_only_at_a_corner_across_a_seam_are_one_lesion():
    mask = np.zeros((8, 8), np.uint8)
    mask[3, 3] = mask[4, 4] = 1                        # the corner lies on both seams
    assert [lesion.pixels for lesion in scan(mask, (4, 4))] == [2]


def test_not_computed_pixels_are_no_lesion():
    mask = np.full((20, 20), 255, np.uint8)
    mask[5:10, 5:10] = 1
    found = scan(mask, (8, 8))
    assert [lesion.pixels for lesion in found] == [25]


@pytest.mark.parametrize("radius, mpp", [(6.3, 0.5), (40.0, 0.25), (151.7, 1.0), (400.2, 0.243)])
def test_disc_area_within_1_percent_and_diameter_within_one_pixel(radius, mpp):
    side = int(2 * radius + 9)
    region = disc((side, side), (side / 2 + 0.31, side / 2 - 0.17), radius)
    diameter = max_feret_um(row_extreme_centres(region), (mpp, mpp))
    assert abs(diameter - 2 * radius * mpp) <= mpp
    if radius > 20:
        assert region.sum() == pytest.approx(math.pi * radius**2, rel=0.01)


@pytest.mark.parametrize("shape", [(1, 1), (1, 200), (120, 160), (37, 5)])
def test_rectangle_diameter_within_one_pixel_of_its_diagonal(shape):
    measured = max_feret_um(row_extreme_centres(np.ones(shape, bool)), (0.5, 0.5))
    assert abs(measured - 0.5 * math.hypot(*shape)) <= 0.5


def test_anisotropic_pixels_are_measured_in_um():
    line = np.ones((1, 100), bool)                      # 100 px along x at 0.8 µm/px
    assert max_feret_um(row_extreme_centres(line), (0.4, 0.8)) == pytest.approx(80.0)
    assert max_feret_um(row_extreme_centres(line.T), (0.4, 0.8)) == pytest.approx(40.0)


def test_report_of_a_workspace_with_three_lesions(tmp_path):
    mpp, d = 0.5, 2.0                                   # slide 0.5 µm/px, mask at 1 µm/px
    mask = np.zeros((700, 900), np.uint8)
    mask[disc(mask.shape, (200, 250), 150)] = 1         # 300 µm across
    mask[500:540, 600:630] = 1                          # 40 x 30 µm: 50 µm diagonal
    mask[650, 850] = 1                                  # one pixel: 1 µm
    write_results(tmp_path / "ws", mask, mpp=mpp, downsample=d, tile_size=128)
    report = build_report(tmp_path / "ws", block_width=96)
    assert [lesion.rank for lesion in report.lesions] == [1, 2, 3]
    big, box, speck = report.lesions
    assert big.area_mm2 == pytest.approx(math.pi * 150**2 / 1e6, rel=0.01)
    assert abs(big.diameter_um - 300) <= 1.0
    assert abs(box.diameter_um - 50) <= 1.0 and box.area_mm2 == pytest.approx(1200 / 1e6)
    assert speck.diameter_um == pytest.approx(1.0)
    assert big.centroid == pytest.approx((400, 500), abs=1)   # level-0 slide px
    assert box.box == (1000, 1200, 1080, 1260)
    assert report.areas.tumour_mm2 == pytest.approx(mask.sum() / 1e6)
    assert report.category == "micro-metastasis"


def test_fusion_classes_are_reported_apart(tmp_path):
    mask = np.zeros((300, 300), np.uint8)
    mask[10:60, 10:110] = 1                              # in situ, 5,000 px
    mask[60:100, 10:110] = 2                             # invasive beside it: one lesion
    mask[200:220, 200:220] = 2
    mask[250:, :] = 255                                  # not computed
    write_results(tmp_path / "ws", mask, mpp=2.0, classes=FUSION_CLASSES)
    report = build_report(tmp_path / "ws")
    areas = report.areas.by_class
    assert areas["carcinoma in situ"] == pytest.approx(5000 * 4 / 1e6)
    assert areas["invasive carcinoma"] == pytest.approx((4000 + 400) * 4 / 1e6)
    assert report.areas.tissue_mm2 == pytest.approx(250 * 300 * 4 / 1e6)
    first = report.lesions[0]
    assert first.class_mm2 == pytest.approx({"carcinoma in situ": 0.02,
                                             "invasive carcinoma": 0.016})


def test_blocks_cover_the_mask_once_in_raster_order(tmp_path):
    mask = np.arange(300 * 260, dtype=np.uint32).reshape(300, 260).astype(np.uint8)
    store = write_results(tmp_path / "ws", mask, tile_size=64)
    level0 = store.mask_levels()[0]
    seen = np.zeros(mask.shape, int)
    locations = []
    for (y, x), block in iter_blocks(level0, block_width=100):
        seen[y:y + block.shape[0], x:x + block.shape[1]] += 1
        assert np.array_equal(block, mask[y:y + block.shape[0], x:x + block.shape[1]])
        locations.append((y, x))
    assert (seen == 1).all() and locations == sorted(locations)


def test_a_damaged_mask_chunk_is_an_error_naming_the_store(tmp_path):
    from napari_histoseg.io.workspace import WorkspaceError

    mask = np.zeros((300, 300), np.uint8)
    mask[100:120, 100:120] = 1
    store = write_results(tmp_path / "ws", mask, tile_size=128)
    chunk = next(p for p in (store.path / "labels" / "mask" / "0").rglob("*") if p.is_file()
                 and p.name != "zarr.json")
    chunk.write_bytes(b"garbage")
    with pytest.raises(WorkspaceError, match="mask cannot be read.*Start over") as caught:
        build_report(tmp_path / "ws")
    assert "results.zarr" in str(caught.value)


def test_the_report_never_reads_more_than_one_block_of_level_0(tmp_path, monkeypatch):
    from napari_histoseg.io.results import ResultStore

    mask = np.zeros((1000, 1200), np.uint8)
    mask[disc(mask.shape, (500, 600), 300)] = 1
    write_results(tmp_path / "ws", mask, tile_size=128)          # chunks of 96² px
    reads = []

    class Recording:
        def __init__(self, array):
            self.array, self.shape, self.chunks, self.store = (array, array.shape, array.chunks,
                                                               array.store)

        def __getitem__(self, key):
            block = self.array[key]
            reads.append(block.size)
            return block

    levels = ResultStore.mask_levels
    monkeypatch.setattr(ResultStore, "mask_levels",
                        lambda self: (Recording(levels(self)[0]), *levels(self)[1:]))
    report = build_report(tmp_path / "ws", block_width=200)
    assert max(reads) <= 96 * 192 and sum(reads) == mask.size    # each pixel read once
    assert report.largest.diameter_um == pytest.approx(600, abs=1)
