"""The bundled demo checkpoint loads and finds tumour on a synthetic slide it never saw."""

from __future__ import annotations

import numpy as np

from napari_histoseg.inference.session import SegmentRequest, prepare_run, start_run
from napari_histoseg.io.labels import open_label_pyramid
from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.models.catalog import BUNDLED_CHECKPOINT
from napari_histoseg.training.metrics import confusion_matrix, scores


def test_bundled_hinet_segments_an_unseen_synthetic_slide(tmp_path):
    pair = generate_pair(tmp_path / "pair", SynthConfig(size=(2048, 2048), seed=3))
    request = SegmentRequest(slide_path=pair.he_path, model=str(BUNDLED_CHECKPOINT),
                             device="cpu", out_dir=tmp_path / "ws")
    prepared = prepare_run(request)
    events = start_run(prepared)
    for _ in events:
        pass
    mask = np.asarray(prepared.plan.store.mask_levels()[0])          # 1 µm/px = slide level 1
    mask = np.where(mask == prepared.plan.store.NOT_COMPUTED, 0, mask)  # glass: no tumour
    truth = np.asarray(open_label_pyramid(pair.tumour_path)[1])
    assert truth.any(), "the test slide must contain tumour"
    result = scores(confusion_matrix(truth, mask, n_classes=2))
    assert result.dice[1] > 0.7, result
