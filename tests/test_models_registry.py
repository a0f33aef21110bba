"""create_model's errors, and checkpoints: round trip and every CheckpointError case."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from napari_histoseg.models.registry import (CheckpointError, ModelConfig, available_models,  # noqa: E402
                                             create_model, load_checkpoint, save_checkpoint)


@pytest.fixture
def saved(tmp_path):
    """A tiny HI-Net checkpoint in tmp_path, with weights that differ from a fresh model's."""
    torch.manual_seed(0)
    model = create_model("hinet", size="tiny")
    with torch.no_grad():
        model(torch.randn(2, 3, 64, 64))  # training-mode pass moves the BatchNorm statistics
    config = ModelConfig("hinet", {"size": "tiny"}, input_mpp=1.0, provenance="test-run")
    return model, save_checkpoint(model, config, tmp_path / "tiny.safetensors")


def test_create_model_names_valid_choices():
    assert available_models() == ["edge_fusion", "hinet"]
    with pytest.raises(ValueError, match="valid names: \\['edge_fusion', 'hinet'\\]"):
        create_model("unet")
    with pytest.raises(ValueError, match="valid keys: .*'tda'"):
        create_model("hinet", size="tiny", attention=True)
    with pytest.raises(ValueError, match="valid sizes"):
        create_model("hinet", size="huge")


def test_round_trip_gives_same_weights_config_and_outputs(saved):
    model, path = saved
    assert path.with_suffix(".json").is_file()
    loaded = load_checkpoint(path)
    assert loaded.config.provenance == "test-run" and loaded.config.class_names == ("non-tumour", "tumour")
    assert not loaded.model.training and len(loaded.sha256) == 64
    he = torch.randn(1, 3, 64, 64)
    assert torch.allclose(loaded.model.predict_logits(he), model.eval().predict_logits(he))


def test_no_pickle_in_checkpoint_files(saved):
    _, path = saved
    data = path.read_bytes()
    header = int.from_bytes(data[:8], "little")
    assert data[8:9] == b"{" and json.loads(data[8:8 + header])["__metadata__"]["architecture"] == "hinet"
    assert not data.startswith(b"PK")  # torch.save's zip container


def test_missing_weights_file_names_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="nothing.safetensors: weights file not found"):
        load_checkpoint(tmp_path / "nothing.safetensors")


def test_missing_config_is_reported(saved):
    _, path = saved
    path.with_suffix(".json").unlink()
    with pytest.raises(CheckpointError, match="tiny.json is missing"):
        load_checkpoint(path)


def edit_config(path, **changes):
    json_path = path.with_suffix(".json")
    json_path.write_text(json.dumps({**json.loads(json_path.read_text()), **changes}))


def test_unregistered_architecture_is_reported(saved):
    _, path = saved
    edit_config(path, architecture="resunet")
    with pytest.raises(CheckpointError, match="architecture 'resunet' is not registered"):
        load_checkpoint(path)


def test_weights_for_another_architecture_are_refused(saved):
    _, path = saved
    edit_config(path, architecture="edge_fusion")
    with pytest.raises(CheckpointError, match="saved for architecture 'hinet' but the config says 'edge_fusion'"):
        load_checkpoint(path)


def test_missing_and_unexpected_keys_are_listed(saved):
    _, path = saved
    edit_config(path, hyperparameters={"size": "tiny", "tda": False})
    with pytest.raises(CheckpointError, match="missing key.*unexpected key") as caught:
        load_checkpoint(path)
    assert str(path) in str(caught.value)


def test_bad_shapes_are_listed(saved):
    _, path = saved
    edit_config(path, hyperparameters={"size": "tiny", "num_classes": 3})
    with pytest.raises(CheckpointError, match="shape mismatch.*head.weight: file \\(2, 24, 1, 1\\), model \\(3, 24, 1, 1\\)"):
        load_checkpoint(path)


def test_corrupt_weights_file_is_reported(saved):
    _, path = saved
    path.write_bytes(b"\x00" * 16)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(path)


def test_invalid_config_values_are_reported(saved):
    _, path = saved
    edit_config(path, class_colors=["red", "#ff0000"])
    with pytest.raises(CheckpointError, match="config tiny.json is invalid: class colours"):
        load_checkpoint(path)
