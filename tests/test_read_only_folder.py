"""``histoseg segment`` on a slide whose folder cannot be written: results go per user.

Tests run as root, where chmod does not stop writes, so the folder is made
"read-only" by the workspace's injectable write check (monkeypatched).
"""

from __future__ import annotations

import argparse

from napari_histoseg.inference.segment_command import add_segment_command
from napari_histoseg.io import workspace as workspace_module
from napari_histoseg.io.workspace import Workspace, workspace_dir_for

from .conftest import tissue_like_rgb, write_pyramid_tiff


def test_cli_on_a_read_only_slide_folder_uses_the_per_user_folder(tmp_path, monkeypatch, capsys):
    (tmp_path / "ro").mkdir()
    slide = write_pyramid_tiff(tmp_path / "ro" / "case.tif", tissue_like_rgb((256, 256)),
                               levels=1, tile=128)
    real = workspace_module.folder_writable
    monkeypatch.setattr(workspace_module, "folder_writable",
                        lambda folder: folder != slide.parent and real(folder))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    parser = argparse.ArgumentParser(prog="histoseg")
    add_segment_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["segment", str(slide), "--model", "hinet", "--tile-size", "128",
                              "--halo", "32", "--device", "cpu"])
    assert args.func(args) == 0
    where = workspace_dir_for(slide)
    assert where.parent == tmp_path / "data" / "napari-histoseg" / "workspaces"
    assert f"results in {where}" in capsys.readouterr().out
    assert not (slide.parent / "case.tif.histoseg").exists()
    assert Workspace.find(slide).results().done_tiles().any()
