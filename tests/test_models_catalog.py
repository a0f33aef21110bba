"""``histoseg models``: architectures with parameter counts, and checkpoints found on disk."""

from __future__ import annotations

import argparse

import pytest

torch = pytest.importorskip("torch")

from napari_histoseg.models import catalog  # noqa: E402
from napari_histoseg.models.registry import ModelConfig, create_model, save_checkpoint  # noqa: E402


def test_checkpoint_folders_put_the_environment_first(tmp_path):
    folders = catalog.checkpoint_folders({"HISTOSEG_MODELS": str(tmp_path)})
    assert folders[0] == tmp_path and folders[-1] == catalog.PACKAGE_WEIGHTS


def test_models_command_lists_sizes_and_checkpoints(tmp_path, monkeypatch, capsys):
    save_checkpoint(create_model("hinet", size="tiny"), ModelConfig("hinet", {"size": "tiny"}),
                    tmp_path / "good.safetensors")
    (tmp_path / "orphan.safetensors").write_bytes(b"")
    monkeypatch.setenv("HISTOSEG_MODELS", str(tmp_path))
    parser = argparse.ArgumentParser()
    catalog.add_models_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["models"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "hinet: paper 46.35 M, small 1.70 M, tiny 0.26 M" in out and "edge_fusion: paper 76.40 M" in out
    assert "good.safetensors: hinet {'size': 'tiny'}, classes [non-tumour, tumour]" in out
    assert "orphan.safetensors: unusable: its config orphan.json is missing" in out
