"""The Retrain dock's Qt-free side: the run config it writes, progress and ETA, the comparison."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from napari_histoseg.io.errors import FileError
from napari_histoseg.training.compare import Comparison
from napari_histoseg.training.dataset_format import read_manifest
from napari_histoseg.training.evaluate import Evaluation
from napari_histoseg.training.metrics import Scores
from napari_histoseg.training.retrain_job import RetrainRequest, child_error, prepare_run
from napari_histoseg.training.run_config import read_run_config
from napari_histoseg.training.run_progress import RunProgress, format_duration
from tests.training_data import build_blob_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return build_blob_dataset(tmp_path_factory.mktemp("retrain") / "dataset")


def test_prepare_run_writes_a_config_the_trainer_reads(tmp_path, dataset):
    run = prepare_run(RetrainRequest(dataset, None, epochs=3, learning_rate=2e-3), tmp_path)
    config = read_run_config(run.config)
    assert config.output == run.folder.resolve() and config.dataset == dataset.resolve()
    assert (config.train.epochs, config.train.learning_rate) == (3, 2e-3)
    assert config.model.base is None and config.crop == 96
    assert [name for name, _ in config.model.classes] == ["non-tumour", "tumour"]
    assert run.command[-4:] == ("train", "--config", str(run.config), "--json")
    assert run.environment["PYTHONUNBUFFERED"] == "1"
    second = prepare_run(RetrainRequest(dataset, None, epochs=1, learning_rate=1e-3), tmp_path)
    assert second.folder != run.folder                       # never reuses a run folder


def test_fine_tuning_takes_the_base_models_architecture_and_classes(tmp_path, dataset):
    base = tmp_path / "base.safetensors"
    base.write_bytes(b"weights")
    base.with_suffix(".json").write_text(json.dumps({
        "architecture": "hinet", "hyperparameters": {"size": "tiny", "tda": False},
        "class_names": ["normal", "cancer"], "class_colors": ["#000000", "#00ff00"], "tile_size": 256}))
    config = read_run_config(prepare_run(RetrainRequest(dataset, base, 2, 1e-4), tmp_path).config)
    assert config.model.base == base.resolve()
    assert config.model.hyperparameters == {"size": "tiny", "tda": False}
    assert config.model.classes == (("normal", "#000000"), ("cancer", "#00ff00"))


def test_a_folder_that_is_not_a_dataset_is_named_in_the_error(tmp_path):
    with pytest.raises(FileError, match="no manifest.json") as error:
        prepare_run(RetrainRequest(tmp_path / "photos", None, 2, 1e-3), tmp_path / "runs")
    assert error.value.path == tmp_path / "photos"
    assert not (tmp_path / "runs").exists()
    with pytest.raises(ValueError, match="epochs"):
        RetrainRequest(tmp_path, None, 0, 1e-3)


def test_child_error_prefers_the_cli_error_line_then_the_traceback():
    cli = "warning: slow\nhistoseg train: error: /d: no manifest.json: not a built dataset\n"
    assert child_error(cli, 2) == "/d: no manifest.json: not a built dataset"
    trace = "Traceback (most recent call last):\n  File x\nRuntimeError: CUDA out of memory\n"
    assert child_error(trace, 1) == "RuntimeError: CUDA out of memory"
    assert "code -9" in child_error("", -9)


def epoch_line(epoch: int, loss: float, miou: float) -> str:
    return json.dumps({"type": "epoch", "epoch": epoch, "train_loss": loss, "seconds": 4.0,
                       "val": {"miou": miou}, "learning_rate": 1e-3, "improved": True})


def test_progress_collects_curves_and_estimates_the_time_left():
    progress = RunProgress()
    progress.feed(json.dumps({"type": "started", "epochs": 5, "resumed_from_epoch": 0,
                              "train_patches": 9, "val_patches": 1}), now=100.0)
    assert progress.feed("some warning printed to stdout", now=101.0) is None
    progress.feed(epoch_line(1, 0.7, 0.4), now=110.0)
    assert progress.eta_seconds() == pytest.approx(40.0)    # 10 s an epoch, 4 left
    progress.feed(epoch_line(2, 0.5, 0.6), now=130.0)
    assert progress.eta_seconds() == pytest.approx(45.0)    # mean(10, 20) x 3
    assert (progress.epochs, progress.losses, progress.val_miou) == ([1, 2], [0.7, 0.5], [0.4, 0.6])
    assert "Epoch 2 of 5" in progress.status() and "45 s left" in progress.status()
    assert progress.other_lines == ["some warning printed to stdout"]
    assert format_duration(200) == "3 min 20 s" and format_duration(3900) == "1 h 05 min"


def evaluation(miou: float, dice: tuple[float, float]) -> Evaluation:
    scores = Scores(acc=0.9, mpa=0.8, miou=miou, fwiou=0.8, mean_dice=sum(dice) / 2,
                    iou=(0.5, 0.5), dice=dice)
    return Evaluation("m", "d", "test", 3, ("non-tumour", "tumour"), scores)


def test_comparison_rows_and_verdict_side_by_side():
    comparison = Comparison(evaluation(0.70, (0.9, 0.6)), evaluation(0.75, (0.92, 0.7)))
    assert comparison.rows() == [("MIoU", "0.700", "0.750"), ("Accuracy", "0.900", "0.900"),
                                 ("Dice non-tumour", "0.900", "0.920"), ("Dice tumour", "0.600", "0.700")]
    assert comparison.new_is_better and "MIoU +0.050 on 3 held-out test tiles" in comparison.verdict()
    worse = Comparison(evaluation(0.8, (0.9, 0.6)), evaluation(0.75, (0.9, 0.6)))
    assert not worse.new_is_better and "not better" in worse.verdict()
    assert Comparison(None, evaluation(0.7, (0.9, 0.6))).rows()[0] == ("MIoU", "–", "0.700")


def commit_corrections(workspace: Path, count: int) -> Path:
    from napari_histoseg.io.corrections import Correction, CorrectionStore
    from tests.training_data import blob_image

    store = CorrectionStore(workspace / "corrections")
    for index in range(count):
        image, mask = blob_image(64, seed=50 + index, kind="pale")
        store.commit(Correction(image=image, after=mask, before=np.zeros_like(mask),
                                location=(0, 300 * index), size=(64, 64), mpp=(1.0, 1.0),
                                slide="s.tif"))
    return workspace


def test_a_slides_corrections_join_the_dataset_weighted_up(tmp_path, dataset):
    from napari_histoseg.training.run import ensure_dataset

    workspace = commit_corrections(tmp_path / "s.histoseg", 6)
    run = prepare_run(RetrainRequest(dataset, None, 1, 1e-3, corrections=workspace), tmp_path)
    config = read_run_config(run.config)
    assert config.source_weights == {"corrections": 4.0} and run.dataset == run.folder / "dataset"
    manifest = ensure_dataset(config)
    sources = {p.source for p in manifest.patches}
    assert sources == {"dataset", "corrections"}
    original = {p.group: p.split for p in read_manifest(dataset).patches}
    assert all(original[p.group] == p.split for p in manifest.patches if p.source == "dataset")
    assert all(p.weight == 1.0 for p in manifest.patches)      # weighted by source at sampling


def test_too_few_corrections_alone_are_refused(tmp_path):
    workspace = commit_corrections(tmp_path / "s.histoseg", 2)
    with pytest.raises(FileError, match="2 correction"):
        prepare_run(RetrainRequest(None, None, 1, 1e-3, corrections=workspace), tmp_path)
    with pytest.raises(ValueError, match="choose a dataset"):
        RetrainRequest(None, None, 1, 1e-3)
