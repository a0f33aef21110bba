"""``histoseg export`` and ``histoseg import``: a workspace's mask to QuPath GeoJSON and back."""

from __future__ import annotations

import json

import numpy as np

from napari_histoseg.cli import main
from napari_histoseg.inference.tiling import TileGrid
from napari_histoseg.io.annotations import Sampling, check_annotations, read_geojson
from napari_histoseg.io.labels import open_label_pyramid
from napari_histoseg.io.rasterise import rasterise
from napari_histoseg.io.workspace import ResultSpec, ResultStore, Workspace

from .test_annotations import iou, mask_with_holes


def segmented_workspace(slide_path) -> np.ndarray:
    """Results at downsample 2 over the 1536 x 2048 fixture slide, holding a known mask."""
    spec = ResultSpec(grid=TileGrid(shape=(768, 1024), downsample=2.0, tile_size=128, halo=32),
                      slide_mpp=(0.5, 0.5), class_names=("normal", "tumour", "in situ"),
                      class_colors=("#000000", "#ff0000", "#00c000"), model="test")
    store = ResultStore.create(Workspace.open(slide_path).results_path, spec)
    mask = np.zeros((768, 1024), dtype=np.uint8)
    mask[200:500, 300:700] = mask_with_holes()
    for level, array in enumerate(store.mask_levels()):
        array[...] = mask[::2**level, ::2**level]
    return mask


def test_export_then_import_gives_the_mask_back(pyramid_tiff, tmp_path, capsys):
    mask = segmented_workspace(pyramid_tiff)
    geojson, labels = tmp_path / "mask.geojson", tmp_path / "labels.tif"
    assert main(["export", str(pyramid_tiff), "--out", str(geojson)]) == 0
    assert "6 annotation(s) written" in capsys.readouterr().out
    features = json.loads(geojson.read_text())["features"]
    assert {f["properties"]["classification"]["name"] for f in features} == {"tumour", "in situ"}
    assert main(["import", str(geojson), "--slide", str(pyramid_tiff), "--out", str(labels),
                 "--downsample", "2", "--class", "in situ=2"]) == 0
    assert "mask written to" in capsys.readouterr().out
    back = open_label_pyramid(labels)
    for label in (1, 2):
        assert iou(back[0].compute() == label, mask == label) >= 0.99
    np.testing.assert_array_equal(back[2].compute(), mask[::4, ::4])


def test_export_of_an_overview_level_lies_over_the_same_tissue(pyramid_tiff, tmp_path):
    mask = segmented_workspace(pyramid_tiff)
    geojson = tmp_path / "overview.geojson"
    assert main(["export", str(pyramid_tiff), "--out", str(geojson), "--level", "1"]) == 0
    shapes = check_annotations(geojson, read_geojson(geojson), {"tumour": 1, "in situ": 2},
                               (1536, 2048))
    back = rasterise(shapes, Sampling(2.0, step=2), (0, 0), (384, 512))
    np.testing.assert_array_equal(back, mask[::2, ::2])


def test_import_of_a_bad_file_is_one_clear_line_and_writes_nothing(pyramid_tiff, tmp_path,
                                                                   capsys):
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": '
                   '[[[0, 0], [9000, 0], [9000, 10], [0, 0]]]}, "properties": {"class": "tumour"}}')
    out = tmp_path / "labels.tif"
    assert main(["import", str(bad), "--slide", str(pyramid_tiff), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"histoseg import: error: {bad}") and "feature 0" in err
    assert "outside the slide" in err and not out.exists()


def test_export_without_results_says_what_to_do(pyramid_tiff, tmp_path, capsys):
    assert main(["export", str(pyramid_tiff), "--out", str(tmp_path / "x.geojson")]) == 2
    assert "run `histoseg segment` first" in capsys.readouterr().err
