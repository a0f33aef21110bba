"""``histoseg segment`` end to end, through add_segment_command on a fresh parser."""

from __future__ import annotations

import argparse

import pytest

from napari_histoseg.inference.segment_command import add_segment_command
from napari_histoseg.io.workspace import Workspace
from napari_histoseg.models.checkpoint_checks import model_sha256
from napari_histoseg.models.registry import file_sha256, read_config

from .conftest import tissue_like_rgb, write_pyramid_tiff


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="histoseg")
    add_segment_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def slide_path(tmp_path):
    return write_pyramid_tiff(tmp_path / "case.tif", tissue_like_rgb((512, 640)), levels=2,
                              tile=128)


def test_segment_with_a_checkpoint_writes_results_and_ome_tiff(checkpoint, slide_path,
                                                               tmp_path, capsys):
    import tifffile

    out = tmp_path / "ws"
    code = _main(["segment", str(slide_path), "--model", str(checkpoint), "--out", str(out),
                  "--halo", "32", "--batch-size", "4", "--device", "cpu",
                  "--export-ome", str(tmp_path / "mask.ome.tif")])
    assert code == 0
    store = Workspace.open(out).results()
    assert store.spec.model_sha256 == model_sha256(file_sha256(checkpoint), read_config(checkpoint))
    assert store.scale == (1.0, 1.0)  # the checkpoint's mpp
    assert store.done_tiles().any() and store.mask_levels()[0][...].max() <= 1
    assert tifffile.imread(tmp_path / "mask.ome.tif").shape == (256, 320)
    assert "tiles computed" in capsys.readouterr().out
    # Running again resumes: nothing left to compute.
    assert _main(["segment", str(slide_path), "--model", str(checkpoint), "--out", str(out),
                  "--halo", "32", "--device", "cpu"]) == 0
    assert "0 tiles computed" in capsys.readouterr().out


def test_model_name_without_checkpoint_warns_that_weights_are_random(slide_path, capsys):
    assert _main(["segment", str(slide_path), "--model", "hinet", "--level", "1",
                  "--tile-size", "128", "--halo", "32", "--device", "cpu"]) == 0
    assert "RANDOM, UNTRAINED weights" in capsys.readouterr().err


def test_missing_checkpoint_names_the_file(slide_path, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.safetensors: no such checkpoint"):
        _main(["segment", str(slide_path), "--model", str(tmp_path / "missing.safetensors")])


def test_slide_without_mpp_warns_and_assumes_a_default(tmp_path, capsys):
    path = write_pyramid_tiff(tmp_path / "nompp.tif", tissue_like_rgb((256, 256)), mpp=None,
                              levels=1, tile=128)
    assert _main(["segment", str(path), "--model", "hinet", "--tile-size", "128",
                  "--halo", "32", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "nompp.tif: the file states no µm per pixel; assuming 0.25" in err
    assert Workspace.open(path).results().scale == (0.25, 0.25)


def test_flipped_views_come_from_the_model_card_unless_asked(checkpoint, slide_path, tmp_path,
                                                             capsys):
    from dataclasses import replace

    from napari_histoseg.models.registry import save_config

    save_config(replace(read_config(checkpoint), card={"test_time_flips": 4}), checkpoint)
    common = ["--model", str(checkpoint), "--halo", "32", "--device", "cpu", "--restart"]
    out = tmp_path / "ws"
    assert _main(["segment", str(slide_path), "--out", str(out), *common]) == 0
    assert "averaged over 4 flipped views" in capsys.readouterr().err
    assert _main(["segment", str(slide_path), "--out", str(out), "--flips", "1", *common]) == 0
    assert "flipped views" not in capsys.readouterr().err
    starts = [r for r in Workspace.open(out).run_log.records() if r["event"] == "segment-start"]
    assert [r["flips"] for r in starts] == [4, 1]
    with pytest.raises(SystemExit):
        _main(["segment", str(slide_path), "--flips", "3"])
    assert "invalid choice: 3" in capsys.readouterr().err
