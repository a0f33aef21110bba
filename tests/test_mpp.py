"""µm/px: one validator for every source; slides without a usable one say so.

Each file case is a small slide written here: none stated, a 72-dpi resolution
tag, an OME file whose first image is the macro, zero, NaN, and anisotropic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tifffile

from napari_histoseg._reader import slide_and_result_layer_data
from napari_histoseg.cli import main
from napari_histoseg.inference.reader import DEFAULT_SLIDE_MPP, choose_resolution
from napari_histoseg.io.mpp import MppError, check_mpp, mpp_from_objective
from napari_histoseg.io.slide import describe_slide, open_slide
from tests.conftest import tissue_like_rgb, write_pyramid_tiff

IMAGE = tissue_like_rgb((256, 384))


def write_svs(path, mpp: str | None, app_mag: str | None = "20"):
    """A one-level tiled TIFF with an Aperio description (what tifffile calls SVS)."""
    fields = "".join(f"|{key} = {value}" for key, value in (("AppMag", app_mag), ("MPP", mpp))
                     if value is not None)
    description = f"Aperio Image Library v10.0.50\r\n384x256 [0,0 384x256] (128x128) JPEG/RGB Q=30{fields}"
    tifffile.imwrite(path, IMAGE, tile=(128, 128), photometric="rgb", compression="jpeg",
                     description=description)
    return path


def write_ome(path, images: list[tuple[str, np.ndarray, float, float]]):
    """An OME-TIFF with one image per (name, pixels, PhysicalSizeY, PhysicalSizeX), in order."""
    with tifffile.TiffWriter(path, ome=True) as tif:
        for name, pixels, size_y, size_x in images:
            tif.write(pixels, photometric="rgb", tile=(128, 128) if pixels.shape[0] >= 128 else None,
                      metadata={"axes": "YXS", "Name": name, "PhysicalSizeY": size_y,
                                "PhysicalSizeX": size_x})
    return path


# --- the validator ---------------------------------------------------------------------
def test_validator_keeps_both_axes_and_accepts_one_number():
    assert check_mpp((0.5, 0.25), "test") == (0.5, 0.25)
    assert check_mpp(0.5, "test") == (0.5, 0.5)


@pytest.mark.parametrize("value, words", [
    (0.0, "outside the plausible range 0.05-50"), (-0.25, "outside the plausible range"),
    (math.nan, "not a finite number"), (math.inf, "not a finite number"),
    (352.8, "outside the plausible range"), ("abc", "not a number"),
    ((0.25, 0.0), "µm/px x is 0"),
])
def test_validator_rejects_with_the_source_and_the_problem(value, words):
    with pytest.raises(MppError, match="the slide µm/px given") as caught:
        check_mpp(value, "the slide µm/px given")
    assert words in str(caught.value)


def test_objective_power_gives_a_typical_mpp():
    assert mpp_from_objective(20) == 0.5 and mpp_from_objective("40") == 0.25
    assert mpp_from_objective(None) is None and mpp_from_objective("0") is None


# --- what files say ----------------------------------------------------------------------
def test_no_mpp_is_unknown_and_info_says_so(tmp_path, capsys):
    path = write_pyramid_tiff(tmp_path / "none.tif", IMAGE, mpp=None, levels=1, tile=128)
    slide = open_slide(path)
    assert slide.mpp is None and slide.mpp_reading.problem == ""
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "unknown (not in the file's metadata)" in out and "--slide-mpp" in out


def test_72_dpi_resolution_tag_is_rejected_not_352_um(tmp_path, capsys):
    path = tmp_path / "72dpi.tif"
    tifffile.imwrite(path, IMAGE, tile=(128, 128), photometric="rgb",
                     resolution=(72, 72), resolutionunit="INCH")
    slide = open_slide(path)
    assert slide.mpp is None
    assert "352.8" in slide.mpp_reading.problem and "72 dpi" in slide.mpp_reading.problem
    assert main(["info", str(path)]) == 0
    assert "unknown: TIFF resolution tags (72 px per inch)" in capsys.readouterr().out


def test_ome_mpp_is_that_of_the_slide_not_the_macro_image_first_in_the_file(tmp_path):
    macro = np.full((64, 96, 3), 200, np.uint8)
    path = write_ome(tmp_path / "macro-first.ome.tif",
                     [("macro", macro, 20.0, 20.0), ("slide", IMAGE, 0.5, 0.5)])
    slide = open_slide(path)
    assert slide.level_shapes[0] == (256, 384)
    assert slide.mpp == pytest.approx((0.5, 0.5))
    assert "image 'slide'" in slide.mpp_reading.source


def test_zero_mpp_is_unknown_and_segmenting_assumes_loudly(tmp_path):
    path = write_ome(tmp_path / "zero.ome.tif", [("slide", IMAGE, 0.0, 0.0)])
    slide = open_slide(path)
    assert slide.mpp is None and "is 0, outside" in slide.mpp_reading.problem
    resolution = choose_resolution(slide, mpp=1.0)  # no ZeroDivisionError
    assert resolution.slide_mpp == (DEFAULT_SLIDE_MPP, DEFAULT_SLIDE_MPP)
    assert "not usable" in resolution.notice and "assuming 0.25" in resolution.notice


def test_nan_mpp_in_an_aperio_description_is_unknown_and_the_objective_helps(tmp_path):
    slide = open_slide(write_svs(tmp_path / "nan.svs", mpp="nan"))
    assert slide.vendor == "aperio" and slide.mpp is None
    assert "not a finite number" in slide.mpp_reading.problem
    assert slide.objective_power == 20.0
    resolution_row = dict(describe_slide(slide))["Resolution"]
    assert "20x objective suggests about 0.5 µm/px" in resolution_row


def test_anisotropic_mpp_is_kept_per_axis(tmp_path):
    path = write_ome(tmp_path / "aniso.ome.tif", [("slide", IMAGE, 0.5, 0.25)])
    slide = open_slide(path)
    assert slide.mpp == pytest.approx((0.5, 0.25))
    [(_, kwargs, _)] = slide_and_result_layer_data(slide)
    assert kwargs["scale"] == pytest.approx((0.5, 0.25))
    resolution = choose_resolution(slide, mpp=1.0)
    assert resolution.slide_mpp == pytest.approx((0.5, 0.25))
    assert resolution.downsample == pytest.approx(1.0 / math.sqrt(0.5 * 0.25))


# --- user input and the engine -------------------------------------------------------------
@pytest.mark.parametrize("given", [0.0, math.nan, 80.0])
def test_bad_slide_mpp_from_the_user_is_a_clear_error(pyramid_tiff, given):
    with pytest.raises(MppError, match="the slide µm/px given"):
        choose_resolution(open_slide(pyramid_tiff), mpp=1.0, slide_mpp=given)


def test_cli_rejects_a_nan_slide_mpp_in_one_line(pyramid_tiff, capsys):
    assert main(["segment", str(pyramid_tiff), "--model", "hinet", "--slide-mpp", "nan"]) == 2
    err = capsys.readouterr().err
    assert "--slide-mpp" in err and "not a finite number" in err and "Traceback" not in err


def test_a_model_finer_than_the_slide_is_said_not_silently_clamped(pyramid_tiff):
    resolution = choose_resolution(open_slide(pyramid_tiff), mpp=0.25)  # slide: 0.5 µm/px
    assert resolution.downsample == 1.0
    assert "finer than the slide" in resolution.notice and "2x smaller" in resolution.notice


def test_reopening_a_slide_without_mpp_places_it_by_its_results(tmp_path, capsys):
    from napari_histoseg._reader import get_reader

    path = write_pyramid_tiff(tmp_path / "none.tif", IMAGE, mpp=None, levels=1, tile=128)
    assert main(["segment", str(path), "--model", "hinet", "--slide-mpp", "0.5", "--mpp", "1.0",
                 "--tile-size", "128", "--halo", "32", "--device", "cpu"]) == 0
    assert "assuming" not in capsys.readouterr().err  # given, not assumed
    (_, image, _), (_, mask, _) = get_reader(str(path))(str(path))
    assert image["scale"] == pytest.approx((0.5, 0.5)) and image["units"] == mask["units"]
    assert mask["scale"] == pytest.approx((1.0, 1.0))
