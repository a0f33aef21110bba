"""The bundled demo checkpoint loads and finds tumour on a synthetic slide it never saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_histoseg.cli import main
from napari_histoseg.inference.session import SegmentRequest, prepare_run, start_run
from napari_histoseg.io.labels import open_label_pyramid
from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.models.catalog import BUNDLED_CHECKPOINT
from napari_histoseg.models.registry import read_config
from napari_histoseg.training.build_dataset import BuildParams, build_dataset
from napari_histoseg.training.metrics import confusion_matrix, scores
from napari_histoseg.training.run_config import read_run_config
from napari_histoseg.training.sources import source_from_dict


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


@pytest.mark.slow
def test_evaluate_prints_the_figures_recorded_in_the_bundled_checkpoint(tmp_path, capsys):
    """Rebuild the recipe's test split (synthetic seed 105) and score the shipped weights on it."""
    recipe = read_run_config(Path(__file__).resolve().parents[1] / "training" / "configs"
                             / "hinet-tiny-synthetic.yaml")
    specs = [{**spec, "path": str(tmp_path / spec["name"])}
             for spec in recipe.build["sources"] if spec.get("split") == "test"]
    build_dataset([source_from_dict(spec) for spec in specs], tmp_path / "data",
                  BuildParams(**recipe.build["params"]))
    assert main(["evaluate", "--model", str(BUNDLED_CHECKPOINT), "--data", str(tmp_path / "data")]) == 0
    printed = [float(v) for v in capsys.readouterr().out.splitlines()[2].split()]
    recorded = read_config(BUNDLED_CHECKPOINT).metrics
    expected = [recorded[key] for key in ("acc", "mpa", "miou", "fwiou")] + recorded["dice"]
    assert printed == pytest.approx(expected, abs=1e-4)
