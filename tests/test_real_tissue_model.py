"""The shipped real-tissue model finds tumour on real H&E it never saw (the recipe's test split)."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_histoseg.models.catalog import REAL_TISSUE_CHECKPOINT
from napari_histoseg.models.registry import read_config
from napari_histoseg.training.build_dataset import BuildParams, build_dataset
from napari_histoseg.training.evaluate import evaluate_checkpoint
from napari_histoseg.training.run_config import read_run_config
from napari_histoseg.training.sources import source_from_dict
from tests.conftest import SHARED_DATA

#: A regression guard below the recorded figure (0.743; the issue aims at 0.75, not reached).
DICE_FLOOR = 0.70


@pytest.fixture(scope="module")
def test_split(tmp_path_factory):
    recipe = Path(__file__).resolve().parents[1] / "training" / "configs" / "real-tissue.yaml"
    if not (SHARED_DATA / "camelyon-mini").is_dir():
        pytest.skip(f"real data not found in {SHARED_DATA}")
    config = read_run_config(recipe)
    out = tmp_path_factory.mktemp("real-test")
    sources = [source_from_dict(spec) for spec in config.build["sources"]]
    build_dataset(sources, out, BuildParams(**config.build["params"]), only_splits=("test",))
    return out


@pytest.mark.slow
def test_pooled_tumour_dice_on_unseen_real_images(test_split):
    evaluation = evaluate_checkpoint(REAL_TISSUE_CHECKPOINT, test_split, "test")
    recorded = read_config(REAL_TISSUE_CHECKPOINT).metrics
    assert evaluation.n_images == recorded["images"]
    assert evaluation.scores.dice[1] == pytest.approx(recorded["dice"][1], abs=1e-3)
    assert evaluation.scores.dice[1] >= DICE_FLOOR


def test_the_model_card_says_what_it_saw_and_does_not_know():
    config = read_config(REAL_TISSUE_CHECKPOINT)
    assert config.input_mpp == 1.0 and config.stain["method"] == "reinhard"
    assert "never primary breast" in config.card["limits"]
    assert REAL_TISSUE_CHECKPOINT.stat().st_size < 20 * 2**20
