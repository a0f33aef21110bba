"""``histoseg`` subcommands that need no model."""

from __future__ import annotations

from napari_histoseg.cli import main


def test_info_prints_levels_and_mpp(pyramid_tiff, capsys):
    assert main(["info", str(pyramid_tiff)]) == 0
    out = capsys.readouterr().out
    assert "2,048 × 1,536 px" in out and "0.5000 × 0.5000 µm/px" in out


def test_info_on_bad_file_is_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "bad.svs"
    bad.write_text("nope")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.svs" in err and "not a TIFF-based slide" in err and "Traceback" not in err
