"""``histoseg segment`` end to end, through add_segment_command on a fresh parser.

Until the models branch lands, ``napari_histoseg.models.registry`` is replaced by a
small stand-in that follows the agreed contract (create_model, load_checkpoint).
"""

from __future__ import annotations

import argparse
import sys
import types
from dataclasses import dataclass

import numpy as np
import pytest

import napari_histoseg.models as models_package
from napari_histoseg.inference.segment_command import add_segment_command
from napari_histoseg.io.workspace import Workspace

from .conftest import tissue_like_rgb, write_pyramid_tiff
from .segmentation_models import PurpleModel


@dataclass(frozen=True)
class _Config:
    class_names: tuple = ("normal", "tumour")
    class_colors: tuple = ("#000000", "#ff0000")
    normalisation: dict = None
    input_mpp: float = 1.0
    tile_size: int = 128


@dataclass(frozen=True)
class _Loaded:
    model: object
    config: _Config
    sha256: str


@pytest.fixture
def registry(monkeypatch):
    fake = types.ModuleType("napari_histoseg.models.registry")
    fake.available_models = lambda: ["purple"]
    fake.create_model = lambda name, **config: PurpleModel()
    fake.load_checkpoint = lambda path, device="cpu": _Loaded(PurpleModel(), _Config(), "feed")
    monkeypatch.setitem(sys.modules, "napari_histoseg.models.registry", fake)
    monkeypatch.setattr(models_package, "registry", fake, raising=False)
    return fake


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="histoseg")
    add_segment_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def slide_path(tmp_path):
    return write_pyramid_tiff(tmp_path / "case.tif", tissue_like_rgb((512, 640)), levels=2,
                              tile=128)


def test_segment_with_a_checkpoint_writes_results_and_ome_tiff(registry, slide_path, tmp_path,
                                                               capsys):
    import tifffile

    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(b"weights")
    out = tmp_path / "ws"
    code = _main(["segment", str(slide_path), "--model", str(checkpoint), "--out", str(out),
                  "--halo", "32", "--batch-size", "4", "--device", "cpu",
                  "--export-ome", str(tmp_path / "mask.ome.tif")])
    assert code == 0
    store = Workspace.open(out).results()
    assert store.spec.model_sha256 == "feed" and store.scale == (1.0, 1.0)  # checkpoint's mpp
    assert store.done_tiles().any() and store.mask_levels()[0][...].max() == 1
    assert tifffile.imread(tmp_path / "mask.ome.tif").shape == (256, 320)
    assert "tiles computed" in capsys.readouterr().out
    # Running again resumes: nothing left to compute.
    assert _main(["segment", str(slide_path), "--model", str(checkpoint), "--out", str(out),
                  "--halo", "32", "--device", "cpu"]) == 0
    assert "0 tiles computed" in capsys.readouterr().out


def test_model_name_without_checkpoint_warns_that_weights_are_random(registry, slide_path,
                                                                     capsys):
    assert _main(["segment", str(slide_path), "--model", "purple", "--level", "1",
                  "--tile-size", "128", "--halo", "32", "--device", "cpu"]) == 0
    assert "RANDOM, UNTRAINED weights" in capsys.readouterr().err


def test_missing_checkpoint_names_the_file(registry, slide_path, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.safetensors: no such checkpoint"):
        _main(["segment", str(slide_path), "--model", str(tmp_path / "missing.safetensors")])


def test_slide_without_mpp_warns_and_assumes_a_default(registry, tmp_path, capsys):
    path = write_pyramid_tiff(tmp_path / "nompp.tif", tissue_like_rgb((256, 256)), mpp=None,
                              levels=1, tile=128)
    assert _main(["segment", str(path), "--model", "purple", "--tile-size", "128",
                  "--halo", "32", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "nompp.tif: the file states no µm per pixel; assuming 0.25" in err
    assert Workspace.open(path).results().scale == (0.25, 0.25)
