"""``histoseg explain`` end to end with a tiny HI-Net checkpoint."""

from __future__ import annotations

import json

from napari_histoseg.cli import main
from napari_histoseg.explain.heatmap_store import open_heatmap
from napari_histoseg.explain.region_files import load_explanation
from napari_histoseg.io.workspace import Workspace

from .conftest import tissue_like_rgb, write_pyramid_tiff


def test_explain_writes_heatmap_regions_queue_and_exports(checkpoint, tmp_path, capsys):
    slide = write_pyramid_tiff(tmp_path / "case.tif", tissue_like_rgb((512, 640)), levels=2,
                               tile=128)
    out = tmp_path / "ws"
    argv = ["explain", str(slide), "--model", str(checkpoint), "--out", str(out),
            "--halo", "32", "--device", "cpu", "--region", "tile", "--window", "64",
            "--csv", str(tmp_path / "regions.csv"), "--geojson", str(tmp_path / "all.geojson")]
    assert main(argv) == 0
    workspace = Workspace.open(out)
    heatmap = open_heatmap(workspace)
    assert "grad-cam layer=p2" in heatmap.spec.model
    assert heatmap.done_tiles().sum() == workspace.results().done_tiles().sum() > 0
    regions, queue, _ = load_explanation(out)
    assert regions and queue
    assert (tmp_path / "regions.csv").read_text().count("\n") == len(regions) + 1
    features = json.loads((tmp_path / "all.geojson").read_text())["features"]
    assert len(features) == len(regions) + len(queue)
    printed = capsys.readouterr().out
    assert "key region 1: score" in printed and "explain.json" in printed
    assert main(argv) == 0  # again: resumes, nothing left to compute
    assert "heatmap: 0 tiles computed" in capsys.readouterr().out


def test_explain_names_an_unknown_layer_before_computing_anything(checkpoint, tmp_path, capsys):
    slide = write_pyramid_tiff(tmp_path / "case.tif", tissue_like_rgb((256, 256)), levels=1,
                               tile=128)
    code = main(["explain", str(slide), "--model", str(checkpoint), "--out", str(tmp_path / "ws"),
                 "--layer", "p9", "--halo", "32", "--device", "cpu"])
    assert code == 2 and "no layer 'p9'" in capsys.readouterr().err
    assert not Workspace.open(tmp_path / "ws").results().done_tiles().any()


def test_explain_follows_the_grid_of_an_earlier_segmentation(checkpoint, tmp_path, capsys):
    slide = write_pyramid_tiff(tmp_path / "case.tif", tissue_like_rgb((512, 640)), levels=2,
                               tile=128)
    out = tmp_path / "ws"
    assert main(["segment", str(slide), "--model", str(checkpoint), "--out", str(out),
                 "--halo", "16", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert main(["explain", str(slide), "--model", str(checkpoint), "--out", str(out),
                 "--device", "cpu"]) == 0  # no --halo: the segmentation's 16, resumed
    workspace = Workspace.open(out)
    assert open_heatmap(workspace).spec.grid == workspace.results().spec.grid
    assert open_heatmap(workspace).spec.grid.halo == 16
