"""The model library: add without overwriting, adopt, roll back, and survive torn files."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from napari_histoseg.cli import main  # noqa: E402
from napari_histoseg.models import catalog  # noqa: E402
from napari_histoseg.models.library import LibraryError, ModelLibrary  # noqa: E402
from napari_histoseg.models.registry import ModelConfig, create_model, save_checkpoint  # noqa: E402


def tiny_checkpoint(path, seed: int):
    torch.manual_seed(seed)
    config = ModelConfig("hinet", {"size": "tiny"}, provenance=f"seed {seed}")
    return save_checkpoint(create_model("hinet", size="tiny"), config, path)


@pytest.fixture
def library(tmp_path):
    return ModelLibrary(tmp_path / "lib")


def test_add_copies_the_pair_and_never_overwrites(tmp_path, library):
    first = tiny_checkpoint(tmp_path / "a" / "best.safetensors", seed=1)
    other = tiny_checkpoint(tmp_path / "b" / "best.safetensors", seed=2)
    entry = library.add(first)
    assert entry.name == "best" and entry.role == "hinet"
    assert entry.path.read_bytes() == first.read_bytes()
    assert entry.path.with_suffix(".json").read_text() == first.with_suffix(".json").read_text()
    assert library.add(first) == entry                       # the same model: the same entry
    assert library.add(other).name == "best-2"               # another model: a free name
    with pytest.raises(LibraryError, match="already has this name"):
        library.add(other, name="best")
    assert library.entry("best").path.read_bytes() == first.read_bytes()
    with pytest.raises(LibraryError, match="not a checkpoint"):
        library.add(tmp_path / "missing.safetensors")
    assert [p.name for p in library.root.iterdir() if p.name.endswith(".tmp")] == []


def test_an_add_cut_before_its_json_is_no_entry_and_is_finished_later(tmp_path, library):
    source = tiny_checkpoint(tmp_path / "m.safetensors", seed=1)
    library.root.mkdir()
    (library.root / "m.safetensors").write_bytes(source.read_bytes())   # killed before the JSON
    assert library.entries() == []
    assert library.add(source).name == "m" and len(library.entries()) == 1


def test_adopt_and_rollback_walk_back_through_the_history(tmp_path, library):
    for seed in (1, 2, 3):
        library.add(tiny_checkpoint(tmp_path / f"m{seed}.safetensors", seed))
    assert library.active("hinet") is None
    library.adopt("m1")
    library.adopt("m2")
    library.adopt("m3")
    assert library.active("hinet").name == "m3"
    assert library.rollback("hinet").name == "m2"
    assert library.rollback("hinet").name == "m1"
    assert ModelLibrary(library.root).active("hinet").name == "m1"      # read back from disk
    assert library.rollback("hinet") is None                           # the package default
    with pytest.raises(LibraryError, match="no adopted hinet model"):
        library.rollback("hinet")
    with pytest.raises(LibraryError, match="no model called 'nope'"):
        library.adopt("nope")


def test_a_torn_history_line_is_skipped_and_later_records_stay_whole(tmp_path, library):
    for seed in (1, 2):
        library.add(tiny_checkpoint(tmp_path / f"m{seed}.safetensors", seed))
    library.adopt("m1")
    library.adopt("m2")
    with open(library.history_path, "a") as handle:
        handle.write('{"action": "adopt", "role": "hin')                # a torn append
    assert library.active("hinet").name == "m2"
    assert library.rollback("hinet").name == "m1"
    lines = library.history_path.read_text().splitlines()
    assert all(isinstance(json.loads(line), dict) for line in lines)     # rewritten whole
    assert [r["action"] for r in library.history()] == ["adopt", "adopt", "rollback"]


def test_catalog_lists_library_models_with_the_active_one_first(tmp_path, private_model_library):
    library = ModelLibrary()
    assert library.root == private_model_library
    for seed in (1, 2):
        library.add(tiny_checkpoint(tmp_path / f"m{seed}.safetensors", seed))
    library.adopt("m2")
    entries = catalog.find_checkpoints(catalog.checkpoint_folders())
    assert entries[0].path == library.root / "m2.safetensors" and entries[0].active
    assert [e.path.name for e in entries if e.active] == ["m2.safetensors"]
    assert any(e.path == library.root / "m1.safetensors" for e in entries)


def test_models_command_adopts_rolls_back_and_marks_the_active_model(tmp_path, capsys):
    checkpoint = tiny_checkpoint(tmp_path / "mine.safetensors", seed=1)
    assert main(["models", "--add", str(checkpoint)]) == 0
    assert main(["models", "--adopt", "mine"]) == 0
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "* " + str(ModelLibrary().root / "mine.safetensors") in out
    assert main(["models", "--rollback"]) == 0
    assert "active hinet model: the bundled default" in capsys.readouterr().out
    assert main(["models", "--adopt", "other"]) == 2
    assert "no model called 'other'" in capsys.readouterr().err
