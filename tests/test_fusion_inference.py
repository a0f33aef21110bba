"""Fusion inference through the tiled engine: H&E tiles with CK5/6 tiles read through the registration."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg.inference.session import SegmentRequest, prepare_run, start_run
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.models.registry import ModelConfig, create_model, save_checkpoint
from napari_histoseg.pairing import Pairing, PairingError, save_pairing
from napari_histoseg.registered import PairedSlide, RegisteredSlide
from napari_histoseg.registration import Registration

CLASSES = ("background", "carcinoma in situ", "invasive carcinoma")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return generate_pair(tmp_path_factory.mktemp("pair"), SynthConfig(size=(1024, 1024), mpp=1.0, seed=3))


@pytest.fixture(scope="module")
def fusion_checkpoint(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    config = ModelConfig(architecture="edge_fusion", hyperparameters={"size": "tiny"}, class_names=CLASSES,
                         class_colors=("#000000", "#00c000", "#ff2a2a"), input_mpp=2.0, tile_size=128)
    return save_checkpoint(create_model("edge_fusion", size="tiny"), config,
                           tmp_path_factory.mktemp("models") / "fusion.safetensors")


def _paired_workspace(pair, root):
    root.mkdir(parents=True, exist_ok=True)
    from napari_histoseg.io.identity import slide_identity

    save_pairing(root, Pairing(pair.ck56_path, slide_identity(pair.ck56_path),
                               Registration(pair.affine, 1.0, 0.5, 20, 20)))
    return root


def test_paired_slide_tiles_carry_he_then_registered_ck56(pair):
    he, ck56 = open_slide(pair.he_path), open_slide(pair.ck56_path)
    registered = RegisteredSlide(he, ck56, Registration(pair.affine, 1.0, 0.0))
    paired = PairedSlide(he, registered)
    tile = paired.read_region(1, (100, 120), (64, 64))
    assert tile.shape == (64, 64, 6)
    np.testing.assert_array_equal(tile[..., :3], he.read_region(1, (100, 120), (64, 64)))
    np.testing.assert_array_equal(tile[..., 3:], registered.read_region(1, (100, 120), (64, 64)))
    assert paired.level_shapes == he.level_shapes and paired.mpp == he.mpp


def _run(pair, checkpoint, out_dir, ck56: bool):
    request = SegmentRequest(slide_path=pair.he_path, model=str(checkpoint), device="cpu", halo=16,
                             out_dir=out_dir, ck56=ck56)
    prepared = prepare_run(request, warn=lambda message: None)
    for _ in start_run(prepared):
        pass
    return prepared


def test_fusion_run_reads_the_ck56_and_writes_three_classes(pair, fusion_checkpoint, tmp_path):
    fused = _run(pair, fusion_checkpoint, _paired_workspace(pair, tmp_path / "a"), ck56=True)
    alone = _run(pair, fusion_checkpoint, tmp_path / "b", ck56=False)
    assert fused.plan.store.spec.class_names == CLASSES
    with_ck56 = np.asarray(fused.plan.store.probability_levels()[0])
    without = np.asarray(alone.plan.store.probability_levels()[0])
    assert with_ck56.shape[0] == 3 and np.isfinite(with_ck56).any()
    assert np.nanmax(np.abs(with_ck56.astype(float) - without.astype(float))) > 0   # the CK5/6 changed it


def test_ck56_run_without_a_pairing_says_what_to_do(pair, fusion_checkpoint, tmp_path):
    request = SegmentRequest(slide_path=pair.he_path, model=str(fusion_checkpoint), device="cpu",
                             out_dir=tmp_path, ck56=True)
    with pytest.raises(PairingError, match="he.tif: no CK5/6 slide is paired"):
        prepare_run(request, warn=lambda message: None)


def test_ck56_run_refuses_a_model_without_a_ck56_branch(pair, tmp_path):
    from napari_histoseg.models.catalog import BUNDLED_CHECKPOINT

    request = SegmentRequest(slide_path=pair.he_path, model=str(BUNDLED_CHECKPOINT), device="cpu",
                             out_dir=_paired_workspace(pair, tmp_path), ck56=True)
    with pytest.raises(ValueError, match="only the edge-guided fusion network reads CK5/6"):
        prepare_run(request, warn=lambda message: None)
