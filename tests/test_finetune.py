"""Fine-tuning on corrections of a systematic error fixes it without forgetting the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_histoseg.training.evaluate import evaluate_checkpoint
from napari_histoseg.training.run import RunFinished, run_training
from napari_histoseg.training.run_config import read_run_config
from tests.training_data import write_pairs

RAW = {"mpp": 1.0, "mask": {"encoding": "grey"}}


def run(tmp_path: Path, name: str, sources: str, epochs: int, base: str = "",
        learning_rate: float = 3e-3, weights: str = "{}") -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(f"""
name: {name}
output: runs/{name}
dataset:
  path: data-{name}
  build:
    params: {{mpp: 1.0, patch_size: 512, tumour_fraction: [0.0, 1.0], stain: none, split: [0.9, 0.1, 0.0]}}
    sources: {sources}
model: {{architecture: hinet, hyperparameters: {{size: tiny}}{base}}}
train: {{epochs: {epochs}, batch_size: 8, learning_rate: {learning_rate}, steps_per_epoch: 8, seed: 2}}
crop: 64
augment: {{scale: [1.0, 1.0], hed_sigma: 0.0, brightness: 0.0, contrast: 0.0, blur_probability: 0.0}}
source_weights: {weights}
""")
    events = list(run_training(read_run_config(config)))
    assert isinstance(events[-1], RunFinished)
    return events[-1].checkpoint


def tumour_dice(checkpoint: Path, folder: Path) -> float:
    return evaluate_checkpoint(checkpoint, folder, source=RAW).scores.dice[1]


@pytest.mark.slow
def test_corrections_fix_a_missed_tissue_type_and_keep_the_rest(tmp_path):
    write_pairs(tmp_path / "purple", 16, kind="purple", seed=1)
    write_pairs(tmp_path / "pale", 16, kind="pale", seed=2)           # the annotator's corrections
    held_purple = write_pairs(tmp_path / "held-purple", 6, kind="purple", seed=3)
    held_pale = write_pairs(tmp_path / "held-pale", 6, kind="pale", seed=4)
    base = run(tmp_path, "base", "[{name: purple, path: purple, mpp: 1.0}]", epochs=6)
    before_pale, before_purple = tumour_dice(base, held_pale), tumour_dice(base, held_purple)
    assert before_purple > 0.8 and before_pale < 0.5          # the systematic error is there
    tuned = run(tmp_path, "tuned", "[{name: purple, path: purple, mpp: 1.0}, "
                "{name: corrections, path: pale, mpp: 1.0}]", epochs=8,
                base=", base: runs/base/best.safetensors", learning_rate=1e-3,
                weights="{corrections: 2.0}")
    after_pale, after_purple = tumour_dice(tuned, held_pale), tumour_dice(tuned, held_purple)
    assert after_pale > before_pale + 0.3
    assert after_purple >= before_purple - 0.02
