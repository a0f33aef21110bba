"""`histoseg train` and `histoseg evaluate`: a config-driven run, its checkpoint and its resume."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from napari_histoseg.cli import main
from napari_histoseg.models.registry import load_checkpoint, read_config
from napari_histoseg.training.run_folder import RunFolder
from tests.training_data import write_pairs


def write_config(tmp_path: Path, name: str = "run", epochs: int = 3, extra: str = "") -> Path:
    """A tiny run on 12 blob images (96 px at 1 µm/px), built on first use."""
    write_pairs(tmp_path / "blobs", count=12, size=96)
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""
name: {name}
output: runs/{name}
dataset:
  path: dataset
  build:
    params: {{mpp: 1.0, patch_size: 512, tumour_fraction: [0.0, 1.0], stain: none}}
    sources: [{{name: blobs, path: blobs, mpp: 1.0}}]
model: {{architecture: hinet, hyperparameters: {{size: tiny}}}}
train: {{epochs: {epochs}, batch_size: 4, learning_rate: 3.0e-3, steps_per_epoch: 3, seed: 1}}
crop: 64
{extra}""")
    return path


def test_train_writes_a_checkpoint_with_test_figures_that_evaluate_repeats(tmp_path, capsys):
    config = write_config(tmp_path, epochs=2)
    assert main(["train", "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    assert "epoch 2:" in printed and "Dice(tumour)" in printed
    best = tmp_path / "runs" / "run" / "best.safetensors"
    metrics = read_config(best).metrics
    assert metrics["split"] == "test" and metrics["images"] >= 1
    assert main(["evaluate", "--model", str(best), "--data", str(tmp_path / "dataset"),
                 "--csv", str(tmp_path / "m.csv")]) == 0
    table = capsys.readouterr().out.splitlines()
    figures = [float(v) for v in table[2].split()]
    assert figures[0] == pytest.approx(metrics["acc"], abs=1e-4)
    assert figures[-1] == pytest.approx(metrics["dice"][1], abs=1e-4)
    assert (tmp_path / "m.csv").read_text().startswith("model,data,split,images,acc")
    assert load_checkpoint(best).config.input_mpp == 1.0


def test_bad_config_names_the_file_and_key(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("name: x\noutput: o\ndataset: {path: d}\nepochs: 3\n")
    assert main(["train", "--config", str(config)]) == 2
    assert "bad.yaml" in capsys.readouterr().err


@pytest.mark.slow
def test_training_killed_mid_epoch_resumes_to_the_same_epochs(tmp_path):
    config = write_config(tmp_path, epochs=4)
    command = [sys.executable, "-m", "napari_histoseg.cli", "train", "--config", str(config), "--json"]
    rng = random.Random(0)
    for kill in range(2):
        child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=tmp_path,
                                 env={**os.environ, "PYTHONUNBUFFERED": "1"})
        for line in child.stdout:
            if json.loads(line)["type"] == "epoch":
                break
        time.sleep(rng.uniform(0.0, 0.4))        # inside the next epoch, or while saving
        child.send_signal(signal.SIGKILL)
        child.wait()
    finished = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=True)
    events = [json.loads(line) for line in finished.stdout.splitlines()]
    assert events[0]["type"] == "started" and events[0]["resumed_from_epoch"] >= 1
    assert events[-1]["type"] == "finished"
    folder = RunFolder(tmp_path / "runs" / "run")
    assert [record["epoch"] for record in folder.history()] == [1, 2, 3, 4]
    tensors, meta = folder.latest_state()
    assert meta["epoch"] == 4 and any(k.startswith("optimiser.") for k in tensors)
    assert sorted(p.name for p in folder.root.glob("state-*")) == ["state-00004.json",
                                                                   "state-00004.safetensors"]
    load_checkpoint(folder.best_path)


def test_a_state_killed_between_its_two_files_is_skipped(tmp_path):
    import torch

    folder = RunFolder(tmp_path)
    folder.save_state({"model.w": torch.ones(2)}, {"epoch": 1, "history": [{"epoch": 1}]})
    (tmp_path / "state-00002.safetensors").write_bytes(b"half")     # killed before its JSON
    tensors, meta = folder.latest_state()
    assert meta["epoch"] == 1 and torch.equal(tensors["model.w"], torch.ones(2))
    (tmp_path / "state-00002.json").write_text(json.dumps({"epoch": 2, "sha256": "0" * 64}))
    assert folder.latest_state()[1]["epoch"] == 1                   # hash does not match
    assert folder.history() == [{"epoch": 1}]
