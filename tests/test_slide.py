"""open_slide on pyramidal TIFFs written here and on a real Aperio SVS."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_histoseg.io.errors import SlideError
from napari_histoseg.io.slide import describe_slide, open_slide
from tests.conftest import tissue_like_rgb, write_pyramid_tiff


def test_pyramid_levels_and_mpp(pyramid_tiff):
    slide = open_slide(pyramid_tiff)
    assert slide.level_shapes == ((1536, 2048), (768, 1024), (384, 512))
    assert slide.downsamples == (1.0, 2.0, 4.0)
    assert slide.mpp == pytest.approx((0.5, 0.5))
    assert slide.level_mpp(2) == pytest.approx((2.0, 2.0))
    assert slide.vendor == "generic-tiff"


def test_levels_are_lazy_dask_arrays_with_tile_chunks(pyramid_tiff):
    level0 = open_slide(pyramid_tiff).levels[0]
    assert level0.dtype == np.uint8 and level0.shape == (1536, 2048, 3)
    assert level0.chunksize[:2] == (256, 256)


def test_read_region_matches_pixels_and_pads_white(tmp_path):
    image = tissue_like_rgb((512, 768))
    path = write_pyramid_tiff(tmp_path / "lossless.tif", image, compression="zlib", levels=2)
    slide = open_slide(path)
    np.testing.assert_array_equal(slide.read_region(0, (100, 200), (64, 32)), image[100:164, 200:232])
    edge = slide.read_region(0, (480, 740), (64, 64))
    np.testing.assert_array_equal(edge[:32, :28], image[480:, 740:])
    assert (edge[32:] == 255).all() and (edge[:, 28:] == 255).all()
    assert (slide.read_region(0, (-100, -100), (50, 50)) == 255).all()


def test_read_region_rejects_missing_level(pyramid_tiff):
    with pytest.raises(ValueError, match="level 7 does not exist"):
        open_slide(pyramid_tiff).read_region(7, (0, 0), (8, 8))


def test_thumbnail_fits_max_size(pyramid_tiff):
    thumb = open_slide(pyramid_tiff).thumbnail(300)
    assert max(thumb.shape[:2]) == 300 and thumb.shape[2] == 3 and thumb.dtype == np.uint8


def test_single_level_tiff_gets_lazy_pyramid(tmp_path):
    path = tmp_path / "flat.tif"
    tifffile.imwrite(path, tissue_like_rgb((2000, 1200)), tile=(256, 256), photometric="rgb")
    slide = open_slide(path)
    assert slide.level_shapes == ((2000, 1200), (1000, 600), (500, 300))
    assert slide.mpp is None
    np.testing.assert_array_equal(slide.levels[1][:2, :2].compute().shape, (2, 2, 3))


def test_ome_tiff_mpp(tmp_path):
    path = tmp_path / "slide.ome.tif"
    tifffile.imwrite(path, tissue_like_rgb((256, 256)), photometric="rgb", tile=(128, 128),
                     metadata={"axes": "YXS", "PhysicalSizeX": 0.25, "PhysicalSizeY": 0.26})
    slide = open_slide(path)
    assert slide.vendor == "ome"
    assert slide.mpp == pytest.approx((0.26, 0.25))


def test_real_aperio_svs(cmu_svs):
    slide = open_slide(cmu_svs)
    assert slide.vendor == "aperio"
    assert slide.level_shapes[0] == (2967, 2220)
    assert slide.mpp == pytest.approx((0.499, 0.499))
    assert slide.properties["AppMag"] == "20"
    region = slide.read_region(0, (1000, 1000), (512, 512))
    assert region.shape == (512, 512, 3) and region.std() > 10  # real tissue, not blank


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SlideError, match="nothere.svs: no such file"):
        open_slide(tmp_path / "nothere.svs")


def test_not_a_slide_is_named(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("this is not an image")
    with pytest.raises(SlideError, match="notes.tif: .*not a TIFF-based slide"):
        open_slide(path)


def test_truncated_file_is_named(pyramid_tiff, tmp_path):
    data = pyramid_tiff.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SlideError, match="cut.tif: .*truncated"):
        open_slide(cut)


def test_non_rgb_image_is_refused(tmp_path):
    path = tmp_path / "fluorescence.tif"
    tifffile.imwrite(path, np.zeros((4, 64, 64), np.uint16), photometric="minisblack")
    with pytest.raises(SlideError, match="fluorescence.tif: no 8-bit brightfield image"):
        open_slide(path)


def test_describe_slide_rows(pyramid_tiff):
    rows = dict(describe_slide(open_slide(pyramid_tiff)))
    assert rows["Dimensions"] == "2,048 × 1,536 px"
    assert rows["Physical size"] == "1.02 × 0.77 mm"
    assert rows["Levels"].startswith("3:")


@pytest.mark.parametrize("level", [0, 1, 2])
def test_direct_tile_reads_equal_the_dask_levels(pyramid_tiff, level):
    slide = open_slide(pyramid_tiff)
    height, width = slide.level_shapes[level]
    location, size = (height // 3, width // 5), (200, 270)   # crosses tile borders
    expected = slide.levels[level][location[0]:location[0] + 200,
                                   location[1]:location[1] + 270].compute()
    np.testing.assert_array_equal(slide.read_region(level, location, size), expected)


def test_dicom_wsi_opens_through_openslide(cmu_svs):
    pytest.importorskip("openslide")
    dicom = sorted((cmu_svs.parent / "dicom").glob("*.dcm"))[0]
    slide = open_slide(dicom)
    assert slide.vendor == "openslide:dicom"
    assert slide.level_shapes == open_slide(cmu_svs).level_shapes
    assert slide.mpp == pytest.approx((0.499, 0.499))
    from_dicom = slide.read_region(0, (1000, 1000), (256, 256)).astype(int)
    from_svs = open_slide(cmu_svs).read_region(0, (1000, 1000), (256, 256)).astype(int)
    # the same scan at the same place, re-encoded: strongly correlated pixels
    assert np.corrcoef(from_dicom.ravel(), from_svs.ravel())[0, 1] > 0.9
    lazy = slide.levels[1][100:164, 200:264].compute()
    np.testing.assert_array_equal(lazy, slide.read_region(1, (100, 200), (64, 64)))
