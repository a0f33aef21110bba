"""Truncated, malicious and crafted checkpoints fail to load without running anything;
the model hash covers weights and config; NaN and out-of-memory give clear errors."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_histoseg.inference.predictor import ModelRunError, Predictor  # noqa: E402
from napari_histoseg.models.registry import (CheckpointError, ModelConfig,  # noqa: E402
                                             create_model, load_checkpoint, save_checkpoint)


class _TouchOnLoad:
    """Unpickling this creates ``marker``: the payload a malicious checkpoint would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    config = ModelConfig("hinet", {"size": "tiny"}, input_mpp=1.0, provenance="test-run")
    return save_checkpoint(create_model("hinet", size="tiny"), config,
                           tmp_path / "tiny.safetensors")


def _edit_config(path: Path, **changes) -> None:
    json_path = path.with_suffix(".json")
    json_path.write_text(json.dumps({**json.loads(json_path.read_text()), **changes}))


def test_truncated_weights_are_refused(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"tiny\.safetensors: not a readable safetensors"):
        load_checkpoint(saved)


@pytest.mark.parametrize("name", ["evil.safetensors", "evil.pt"])
def test_a_pickle_payload_is_never_run(saved, tmp_path, name):
    marker = tmp_path / "payload-ran"
    payload = pickle.dumps({"state_dict": _TouchOnLoad(marker)})
    # the payload is live: unpickling it in another process creates the marker
    probe = tmp_path / "probe.pkl"
    probe.write_bytes(payload)
    subprocess.run([sys.executable, "-c", f"import pickle, pathlib; "
                    f"pickle.loads(pathlib.Path({str(probe)!r}).read_bytes())"], check=True,
                   cwd=Path(__file__).parent)
    assert marker.exists()
    marker.unlink()

    evil = tmp_path / name
    evil.write_bytes(payload)
    evil.with_suffix(".json").write_bytes(saved.with_suffix(".json").read_bytes())
    with pytest.raises(CheckpointError, match=r"evil\.(safetensors: not a readable|pt: only)"):
        load_checkpoint(evil)
    assert not marker.exists()


@pytest.mark.parametrize("hyperparameters, problem", [
    ({"size": "tiny", "backbone_width": 10**6}, r"backbone_width = 1000000 is outside"),
    ({"size": "tiny", "backbone_layers": list(range(100))}, r"backbone_layers is not a small"),
    ({"size": "paper", "backbone_width": 4000}, r"\d+ M parameters; at most 300 M"),
])
def test_a_crafted_config_cannot_build_a_huge_model(saved, hyperparameters, problem):
    _edit_config(saved, hyperparameters=hyperparameters)
    with pytest.raises(CheckpointError, match=r"tiny\.safetensors: .*" + problem):
        load_checkpoint(saved)


@pytest.mark.parametrize("changes, problem", [
    ({"tile_size": 10**7}, "tile_size"), ({"input_mpp": 1e9}, "input_mpp"),
    ({"normalisation": {"mean": [0, 0, 1e300], "std": [1, 1, 1]}}, "normalisation mean"),
])
def test_config_values_are_bounded(saved, changes, problem):
    _edit_config(saved, **changes)
    with pytest.raises(CheckpointError, match=problem):
        load_checkpoint(saved)


def test_weights_and_config_are_hashed_together(saved):
    first = load_checkpoint(saved).sha256
    _edit_config(saved, provenance="renamed run", card={"note": "metadata only"})
    assert load_checkpoint(saved).sha256 == first
    _edit_config(saved, normalisation={"mean": [0.4, 0.5, 0.5], "std": [0.5, 0.5, 0.5]})
    second = load_checkpoint(saved).sha256
    _edit_config(saved, input_mpp=0.5)
    third = load_checkpoint(saved).sha256
    assert len({first, second, third}) == 3


class _Broken(torch.nn.Module):
    def __init__(self, failure: str):
        super().__init__()
        self.failure = failure
        self.calls = []

    def predict_logits(self, x):
        self.calls.append(len(x))
        if self.failure == "oom":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")
        logits = torch.zeros(len(x), 2, *x.shape[-2:])
        logits[-1, 1, 3, 4] = float("nan")
        return logits


def test_nan_outputs_give_a_clear_error():
    predictor = Predictor(_Broken("nan"), "cpu", None, tile_size=32, batch_size=4)
    with pytest.raises(ModelRunError, match="NaN or infinite outputs for 1 of 4 tiles"):
        predictor.predict(np.zeros((4, 32, 32, 3), np.uint8))


def test_out_of_memory_halves_the_batch_then_says_what_to_do():
    model = _Broken("oom")
    predictor = Predictor(model, "cpu", None, tile_size=32, batch_size=4)
    with pytest.raises(ModelRunError, match=r"ran out of memory with a single 32² tile.*CPU"):
        predictor.predict(np.zeros((4, 32, 32, 3), np.uint8))
    assert model.calls == [4, 2, 1]
