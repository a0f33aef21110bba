"""The bundled fusion checkpoint separates in situ from invasive on an unseen synthetic pair."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg.inference.session import SegmentRequest, prepare_run, start_run
from napari_histoseg.io.identity import slide_identity
from napari_histoseg.io.labels import open_label_pyramid
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.models.catalog import FUSION_CHECKPOINT
from napari_histoseg.models.registry import read_config
from napari_histoseg.pairing import Pairing, save_pairing
from napari_histoseg.registration import Registration
from napari_histoseg.training.metrics import confusion_matrix, scores


def test_bundled_fusion_checkpoint_describes_itself():
    config = read_config(FUSION_CHECKPOINT)
    assert config.architecture == "edge_fusion"
    assert config.class_names == ("background", "carcinoma in situ", "invasive carcinoma")
    assert FUSION_CHECKPOINT.stat().st_size < 5 * 2**20
    detail = config.card["detail_crops"]                      # trained with 40x detail crops
    assert (detail["window"], detail["zoom"]) == (32, 4)


@pytest.mark.slow
def test_bundled_fusion_dice_on_an_unseen_pair(tmp_path):
    pair = generate_pair(tmp_path / "pair", SynthConfig(size=(4096, 4096), seed=7))   # not a training seed
    workspace = tmp_path / "ws"
    workspace.mkdir()
    save_pairing(workspace, Pairing(pair.ck56_path, slide_identity(pair.ck56_path),
                                    Registration(pair.affine, 1.0, 0.5, 20, 20)))
    request = SegmentRequest(slide_path=pair.he_path, device="cpu", out_dir=workspace, ck56=True, halo=32)
    prepared = prepare_run(request, warn=lambda message: None)
    assert prepared.model.name == FUSION_CHECKPOINT.name              # --ck56 picks the fusion model
    for _ in start_run(prepared):
        pass
    [crops] = [r for r in prepared.workspace.run_log.records() if r["event"] == "detail-crops"]
    assert (crops["zoom"], crops["level"], crops["notice"]) == (4, 0, "")    # 0.5 µm/px, level 0
    store = prepared.plan.store
    mask = np.asarray(store.mask_levels()[0])
    mask = np.where(mask == store.NOT_COMPUTED, 0, mask)
    level = open_slide(pair.he_path).best_level_for_downsample(store.spec.grid.downsample)
    truth = np.asarray(open_label_pyramid(pair.labels_path)[level])
    assert (truth == 1).sum() > 1000 and (truth == 2).sum() > 1000
    dice = scores(confusion_matrix(truth, mask, n_classes=3)).dice
    assert dice[1] >= 0.7 and dice[2] >= 0.7, dice
