"""Bad slide files: each gets a SlideError naming the file and the cause, or opens correctly.

A damaged tile inside a good slide reads white with one warning on the display path,
raises CorruptTileError on the engine's path, and the engine skips and records it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tifffile

from napari_histoseg.inference.engine import SegmentParams, segment
from napari_histoseg.inference.plan import GridParams, ModelInfo, plan_run
from napari_histoseg.io.errors import CorruptTileError, SlideError
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.tiff_checks import check_level_shapes
from napari_histoseg.io.tile_faults import CorruptTileWarning
from napari_histoseg.io.workspace import Workspace

from .conftest import tissue_like_rgb, write_pyramid_tiff
from .segmentation_models import PurpleModel

TWO = ModelInfo("purple", "", ("normal", "tumour"), ("#000000", "#ff0000"))


def _overwrite_tag(path, name: str, value: int, page: int = 0) -> None:
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages[page].tags[name].overwrite(value)


def _damage_tile(path, tile: int, page: int = 0) -> None:
    """Overwrite the bytes of one stored tile of ``page`` with garbage."""
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[page].dataoffsets[tile], tif.pages[page].databytecounts[tile]
    with open(path, "r+b") as file:
        file.seek(offset)
        file.write(bytes(range(7, 7 + count)) if count < 249 else b"\x07\x01" * (count // 2))


@pytest.fixture
def slide_path(tmp_path):
    return write_pyramid_tiff(tmp_path / "slide.tif", tissue_like_rgb((256, 384)), levels=2,
                              tile=64)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.svs"
    path.write_bytes(b"")
    with pytest.raises(SlideError, match=r"empty\.svs: not a TIFF-based slide"):
        open_slide(path)


def test_absurd_declared_size_is_refused(slide_path):
    _overwrite_tag(slide_path, "ImageWidth", 10**9)
    _overwrite_tag(slide_path, "ImageLength", 10**9)
    with pytest.raises(SlideError, match=r"slide\.tif: .*1,000,000,000 × 1,000,000,000 px"):
        open_slide(slide_path)


def test_unknown_compression_is_refused(slide_path):
    _overwrite_tag(slide_path, "Compression", 9999)
    with pytest.raises(SlideError, match=r"slide\.tif: .*compression .*9999.* cannot be decoded"):
        open_slide(slide_path)


def test_jpeg_data_declared_uncompressed_reads_as_damaged(slide_path):
    _overwrite_tag(slide_path, "Compression", 1)
    slide = open_slide(slide_path)
    with pytest.raises(CorruptTileError, match=r"slide\.tif: .*cannot be decoded"):
        slide.read_region(0, (0, 0), (64, 64))


def test_levels_that_do_not_shrink_consistently_are_refused(tmp_path):
    # tifffile already drops SubIFD levels of another aspect ratio; page-based pyramids
    # (SVS, NDPI) are checked by io.tiff_checks before any level is shown.
    path = tmp_path / "odd.svs"
    check_level_shapes([(256, 384), (128, 192), (64, 96)], path)
    for shapes in ([(256, 384), (128, 96)], [(256, 384), (128, 192), (256, 384)]):
        with pytest.raises(SlideError, match=r"odd\.svs: level \d is .*inconsistent"):
            check_level_shapes(shapes, path)


def test_sixteen_bit_slide_is_refused_clearly(tmp_path):
    path = tmp_path / "deep.tif"
    tifffile.imwrite(path, np.zeros((128, 128, 3), np.uint16), photometric="rgb", tile=(64, 64))
    with pytest.raises(SlideError, match=r"deep\.tif: no 8-bit brightfield image.*uint16"):
        open_slide(path)


@pytest.mark.parametrize("layout", ["grey", "rgba", "planar"])
def test_grey_rgba_and_planar_slides_read_as_rgb(tmp_path, layout):
    rgb = tissue_like_rgb((128, 192))
    path = tmp_path / f"{layout}.tif"
    if layout == "grey":
        tifffile.imwrite(path, rgb[..., 0], photometric="minisblack", tile=(64, 64))
        expected = np.repeat(rgb[..., :1], 3, axis=-1)
    elif layout == "rgba":
        rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
        tifffile.imwrite(path, rgba, photometric="rgb", extrasamples=["unassalpha"], tile=(64, 64))
        expected = rgb
    else:
        tifffile.imwrite(path, np.moveaxis(rgb, -1, 0), photometric="rgb",
                         planarconfig="separate", tile=(64, 64))
        expected = rgb
    slide = open_slide(path)
    assert np.array_equal(slide.read_region(0, (0, 0), (128, 192)), expected)
    assert np.array_equal(np.asarray(slide.levels[0]), expected)


@pytest.mark.parametrize("compression", ["jpeg", "jpeg2000"])
def test_damaged_tile_reads_white_once_warned_and_the_rest_is_intact(tmp_path, compression):
    image = tissue_like_rgb((256, 384))
    path = write_pyramid_tiff(tmp_path / "slide.tif", image, levels=2, tile=64,
                              compression=compression)
    good = np.asarray(open_slide(path).levels[0])
    _damage_tile(path, tile=7)  # row 1, col 1: rows 64-128, cols 64-128
    slide = open_slide(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shown = np.asarray(slide.levels[0])
        np.asarray(slide.levels[0])  # drawn again: still one warning for the slide
    faults = [w for w in caught if issubclass(w.category, CorruptTileWarning)]
    assert len(faults) == 1 and "slide.tif" in str(faults[0].message)
    assert (shown[64:128, 64:128] == 255).all()
    outside = np.ones(shown.shape[:2], bool)
    outside[64:128, 64:128] = False
    assert np.array_equal(shown[outside], good[outside])
    with pytest.raises(CorruptTileError, match=r"slide\.tif: .*rows 64-128, cols 64-128"):
        slide.read_region(0, (100, 100), (10, 10))
    assert np.array_equal(slide.read_region(0, (0, 0), (64, 384)), good[:64])


def test_engine_skips_and_records_a_damaged_tile(tmp_path):
    image = tissue_like_rgb((256, 384))
    path = write_pyramid_tiff(tmp_path / "slide.tif", image, levels=1, tile=64)
    _damage_tile(path, tile=7)
    slide = open_slide(path)
    workspace = Workspace.open(slide.path)
    with pytest.warns(CorruptTileWarning, match="slide.tif"):  # the tissue thumbnail
        plan = plan_run(slide, workspace, GridParams(tile_size=64, halo=0,
                                                     min_tissue_fraction=-1), TWO)
    run = segment(slide, PurpleModel(), plan, SegmentParams(batch_size=4, device="cpu"),
                  run_log=workspace.run_log)
    with pytest.raises(StopIteration) as stop:
        while True:
            next(run)
    summary = stop.value.value
    assert summary.tiles_skipped == 1 and summary.tiles_computed == plan.store.spec.grid.n_tiles - 1
    assert "1 tile(s) skipped" in summary.skipped_note
    skipped = [r for r in workspace.run_log.records() if r["event"] == "tile-skipped"]
    assert [r["tile"] for r in skipped] == [[1, 1]] and "slide.tif" in skipped[0]["reason"]
    done = plan.store.done_tiles()
    assert not done[1, 1] and done.sum() == done.size - 1
