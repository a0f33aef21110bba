"""Whole-or-absent files: workspace.json and the checkpoint pair are fsynced before rename."""

from __future__ import annotations

import os

import pytest

from napari_histoseg.io.atomic import atomic_write_bytes
from napari_histoseg.models.registry import ModelConfig, create_model, save_checkpoint


@pytest.fixture
def journal(monkeypatch):
    """Records ("fsync", path) and ("replace", src, dst) in the order they happen."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(src), str(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def _fsynced_before_renamed(events, final) -> bool:
    renames = [i for i, e in enumerate(events) if e[0] == "replace" and e[2] == str(final)]
    if not renames:
        return False
    source = events[renames[0]][1]
    return any(e == ("fsync", source) for e in events[:renames[0]])


def test_write_atomic_fsyncs_then_renames(tmp_path, journal):
    target = tmp_path / "workspace.json"
    atomic_write_bytes(target, b"{}")
    assert target.read_bytes() == b"{}"
    assert _fsynced_before_renamed(journal, target)
    assert [p.name for p in tmp_path.iterdir()] == ["workspace.json"]


def test_checkpoint_pair_is_fsynced_before_either_is_renamed(tmp_path, journal):
    config = ModelConfig(architecture="hinet", hyperparameters={"size": "tiny"})
    weights = save_checkpoint(create_model("hinet", size="tiny"), config,
                              tmp_path / "model.safetensors")
    json_path = weights.with_suffix(".json")
    assert _fsynced_before_renamed(journal, weights)
    assert _fsynced_before_renamed(journal, json_path)
    first_rename = min(i for i, e in enumerate(journal) if e[0] == "replace")
    fsynced = {e[1] for e in journal[:first_rename] if e[0] == "fsync"}
    assert len(fsynced) == 2  # both halves are on disk before either takes its final name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.safetensors"]
