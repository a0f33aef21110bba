"""The shipped model for a slide, stain normalisation per slide, and out-of-range warnings."""

from __future__ import annotations

import numpy as np

from napari_histoseg.inference.model_choice import (applicability_warnings, default_model, incumbent_model,
                                                   is_synthetic)
from napari_histoseg.io.slide import open_slide
from napari_histoseg.models.catalog import BUNDLED_CHECKPOINT, REAL_TISSUE_CHECKPOINT
from napari_histoseg.stain import StainStats

CARD = {"stain_range": {"mean_min": [45.0, 20.0, -15.0], "mean_max": [60.0, 30.0, -8.0]}}


def test_synthetic_slides_get_the_synthetic_model_and_others_the_real_one(tmp_path, pyramid_tiff):
    from napari_histoseg.io.synthetic import SynthConfig, generate_pair

    pair = generate_pair(tmp_path / "synth", SynthConfig(size=(1024, 1024), seed=3))
    synthetic, plain = open_slide(pair.he_path), open_slide(pyramid_tiff)
    assert is_synthetic(synthetic) and not is_synthetic(plain)
    assert default_model(synthetic) == BUNDLED_CHECKPOINT
    assert default_model(plain) == REAL_TISSUE_CHECKPOINT


def test_a_retrained_model_is_compared_with_what_the_slide_would_run(tmp_path, pyramid_tiff):
    from napari_histoseg.models.library import ModelLibrary

    library = ModelLibrary(tmp_path / "library")
    assert incumbent_model(pyramid_tiff, library) == REAL_TISSUE_CHECKPOINT
    assert incumbent_model(None, library) == REAL_TISSUE_CHECKPOINT
    adopted = library.add(BUNDLED_CHECKPOINT, name="mine")
    library.adopt(adopted.name)
    assert incumbent_model(None, library) == incumbent_model(pyramid_tiff, library) == adopted.path


def test_warnings_name_a_coarse_slide_and_foreign_stains():
    typical = StainStats((52.0, 25.0, -11.0), (20.0, 12.0, 7.0))
    assert applicability_warnings(0.5, 1.0, typical, CARD) == []
    assert applicability_warnings(None, 1.0, None, CARD) == []
    coarse = applicability_warnings(2.0, 1.0, typical, CARD)
    assert len(coarse) == 1 and "2.00 µm/px" in coarse[0]
    blue = StainStats((52.0, -5.0, -40.0), (20.0, 12.0, 7.0))
    foreign = applicability_warnings(0.5, 1.0, blue, CARD)
    assert len(foreign) == 1 and "stain colours" in foreign[0]


def test_a_stain_normalised_model_gets_a_slide_lookup_table(tmp_path, pyramid_tiff):
    from napari_histoseg.inference.session import SegmentRequest, prepare_run
    from napari_histoseg.models.registry import ModelConfig, create_model, save_checkpoint

    config = ModelConfig(architecture="hinet", hyperparameters={"size": "tiny"}, input_mpp=1.0,
                         tile_size=128, stain={"method": "reinhard", **StainStats().to_dict()})
    path = save_checkpoint(create_model("hinet", size="tiny"), config, tmp_path / "m.safetensors")
    warnings = []
    prepared = prepare_run(SegmentRequest(slide_path=pyramid_tiff, model=str(path), halo=16,
                                          out_dir=tmp_path / "ws"), warn=warnings.append)
    lut = prepared.params.colour_lut
    assert lut is not None and lut.shape == (64, 64, 64, 3)
    tile = prepared.slide.read_region(0, (0, 0), (64, 64))
    assert np.abs(lut[tile[..., 0] >> 2, tile[..., 1] >> 2, tile[..., 2] >> 2].astype(int)
                  - tile).mean() > 3                      # the tiles really change colour
