"""Mask -> GeoJSON -> mask, QuPath's conventions, and the bad GeoJSON a user may bring."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from skimage.draw import disk

from napari_histoseg.io.annotation_files import import_annotations
from napari_histoseg.io.annotations import (AnnotationError, Sampling, check_annotations,
                                            mask_to_geojson, read_geojson)
from napari_histoseg.io.labels import open_label_pyramid
from napari_histoseg.io.rasterise import rasterise

NAMES, COLORS = ("background", "tumour", "in situ"), ("#000000", "#ff0000", "#00c000")
CLASSES = {"tumour": 1, "in situ": 2, "exclusion": 0}


def mask_with_holes(shape=(300, 400)) -> np.ndarray:
    """A ring with a hole, an island in the hole, a holed rectangle of class 2, and specks."""
    mask = np.zeros(shape, dtype=np.uint8)
    mask[disk((150, 150), 110, shape=shape)] = 1
    mask[disk((150, 150), 60, shape=shape)] = 0        # a hole
    mask[disk((150, 150), 25, shape=shape)] = 1        # a component inside the hole
    mask[20:90, 280:390] = 2
    mask[40:60, 300:330] = 0                           # a hole in class 2
    mask[200:203, 300:302] = 1                         # a speck
    mask[250, 350] = mask[251, 351] = 1                # two pixels touching at a corner
    return mask


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


def write_json(path, data):
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("sampling", [Sampling(1.0), Sampling(4.0), Sampling(2.0, step=2)])
def test_round_trip_through_a_geojson_file_keeps_the_mask(tmp_path, sampling):
    mask = mask_with_holes()
    collection = mask_to_geojson(mask, sampling, NAMES, COLORS)
    path = write_json(tmp_path / "mask.geojson", collection)
    shapes = check_annotations(path, read_geojson(path), CLASSES, (10**5, 10**5))
    back = rasterise(shapes, sampling, (0, 0), mask.shape)
    for label in (1, 2):
        assert iou(back == label, mask == label) >= 0.99
    assert (back == mask).mean() > 0.999


def test_geojson_follows_qupaths_conventions():
    collection = mask_to_geojson(mask_with_holes(), Sampling(4.0), NAMES, COLORS)
    features = collection["features"]
    assert collection["type"] == "FeatureCollection"
    assert all(f["properties"]["objectType"] == "annotation" for f in features)
    tumour = [f for f in features if f["properties"]["classification"]["name"] == "tumour"]
    assert tumour[0]["properties"]["classification"]["color"] == [255, 0, 0]
    geometries = [shapely.geometry.shape(f["geometry"]) for f in features]
    assert all(g.is_valid and g.geom_type == "Polygon" for g in geometries)
    # ring + island + speck + two corner-touching pixels (4-connected) = 5 tumour polygons
    assert len(tumour) == 5
    assert sorted(len(g.interiors) for g in geometries) == [0, 0, 0, 0, 1, 1]
    ring = max(geometries, key=lambda g: g.area)
    assert ring.exterior.is_ccw and not ring.interiors[0].is_ccw   # RFC 7946 winding
    # the disk covers mask columns 41..259, i.e. level-0 x from 4 * 41 to 4 * 260
    assert ring.bounds[0] == 4 * 41 and ring.bounds[2] == 4 * 260


def test_import_writes_a_label_pyramid_the_labels_reader_opens(tmp_path):
    mask = mask_with_holes()
    collection = mask_to_geojson(mask, Sampling(2.0), NAMES, COLORS)
    path = write_json(tmp_path / "qupath.geojson", collection)
    areas = import_annotations(path, tmp_path / "labels.tif", (600, 800), downsample=2.0,
                               classes=CLASSES, slide_mpp=(0.25, 0.25))
    levels = open_label_pyramid(tmp_path / "labels.tif")
    np.testing.assert_array_equal(levels[0].compute(), mask)
    np.testing.assert_array_equal(levels[1].compute(), mask[::2, ::2])
    assert set(areas) == {1, 2}


def test_qupath_feature_list_and_plain_class_properties_are_read(tmp_path):
    square = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}
    features = [{"type": "Feature", "geometry": square, "properties": {"class": "Tumor"}},
                {"type": "Feature", "geometry": square,
                 "properties": {"classification": {"name": "tumour", "colorRGB": -65536}}}]
    path = write_json(tmp_path / "list.json", features)
    annotations = read_geojson(path)
    assert [a.class_name for a in annotations] == ["Tumor", "tumour"]
    assert [label for _, label in check_annotations(path, annotations, {**CLASSES, "tumor": 1},
                                                           (20, 20))] == [1, 1]


def feature(coordinates, name="tumour", geometry="Polygon", **extra):
    return {"type": "Feature", "id": extra.pop("id", "f"), **extra,
            "geometry": {"type": geometry, "coordinates": coordinates},
            "properties": {"classification": {"name": name}}}


GOOD = [[[10, 10], [50, 10], [50, 50], [10, 50], [10, 10]]]
BAD_CASES = {
    "self-intersecting": (feature([[[10, 10], [50, 50], [50, 10], [10, 50], [10, 10]]]),
                          "not a valid polygon.*Self-intersection"),
    "outside": (feature([[[10, 10], [150, 10], [150, 50], [10, 50], [10, 10]]]),
                "outside the slide.*100 x 80 px"),
    "unknown class": (feature(GOOD, name="stroma"), "unknown class 'stroma'.*--class"),
    "empty": (feature([[[10, 10], [50, 10], [30, 10], [10, 10]]]), "empty"),
    "point": (feature([10, 10], geometry="Point"), "is a Point"),
    "no geometry": ({"type": "Feature", "properties": {"class": "tumour"}}, "cannot be read"),
    "no class": ({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": GOOD},
                  "properties": {"name": "mine"}}, r"feature 1 \('mine'\): .*no class"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_a_bad_feature_is_named_and_nothing_is_written(tmp_path, case):
    bad, message = BAD_CASES[case]
    collection = {"type": "FeatureCollection", "features": [feature(GOOD), bad]}
    path = write_json(tmp_path / "bad.geojson", collection)
    out = tmp_path / "out" / "labels.tif"
    out.parent.mkdir()
    with pytest.raises(AnnotationError, match=message) as caught:
        import_annotations(path, out, (80, 100), classes=CLASSES)
    assert str(caught.value).startswith(str(path)) and "feature 1" in str(caught.value)
    assert list(out.parent.iterdir()) == []


def test_repair_mends_a_self_intersecting_polygon(tmp_path):
    bowtie = feature([[[10, 10], [50, 50], [50, 10], [10, 50], [10, 10]]])
    path = write_json(tmp_path / "bowtie.geojson", {"type": "FeatureCollection",
                                                     "features": [bowtie]})
    areas = import_annotations(path, tmp_path / "labels.tif", (80, 100), classes=CLASSES,
                               repair=True)
    assert areas[1] == pytest.approx(800.0)          # two triangles of 20 x 40 / 2
    labels = open_label_pyramid(tmp_path / "labels.tif")[0].compute()
    assert labels[30, 15] == 1 and labels[15, 30] == 0


def test_multipolygons_are_imported_whole(tmp_path):
    parts = [[[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]],
             [[[20, 20], [40, 20], [40, 40], [20, 40], [20, 20]],
              [[25, 25], [25, 30], [30, 30], [30, 25], [25, 25]]]]
    path = write_json(tmp_path / "multi.geojson", feature(parts, geometry="MultiPolygon"))
    areas = import_annotations(path, tmp_path / "labels.tif", (50, 50), classes=CLASSES)
    labels = open_label_pyramid(tmp_path / "labels.tif")[0].compute()
    assert areas == {1: 100.0 + 400.0 - 25.0} and labels.sum() == 100 + 400 - 25
    assert labels[27, 27] == 0 and labels[22, 22] == 1


def test_malformed_json_names_the_file_and_the_place(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [\n  {"type": }')
    with pytest.raises(AnnotationError, match=r"broken.geojson: not valid JSON \(line 2"):
        read_geojson(path)
    path.write_text('{"type": "Topology"}')
    with pytest.raises(AnnotationError, match="not GeoJSON"):
        read_geojson(path)


def test_a_write_that_fails_half_way_leaves_no_file(tmp_path, monkeypatch):
    import napari_histoseg.io.rasterise as rasterise_module

    path = write_json(tmp_path / "ok.geojson",
                      mask_to_geojson(mask_with_holes(), Sampling(1.0), NAMES, COLORS))
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return rasterise(*args, **kwargs)

    monkeypatch.setattr(rasterise_module, "rasterise", failing)
    with pytest.raises(OSError, match="disk full"):
        import_annotations(path, tmp_path / "labels.tif", (300, 1200), classes=CLASSES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.geojson"]


def test_the_label_pyramid_records_where_it_came_from(tmp_path, caplog):
    import tifffile

    path = write_json(tmp_path / "a.geojson",
                      mask_to_geojson(mask_with_holes(), Sampling(1.0), NAMES, COLORS))
    import_annotations(path, tmp_path / "labels.tif", (300, 400), classes=CLASSES,
                       slide_mpp=(0.5, 0.5))
    with tifffile.TiffFile(tmp_path / "labels.tif") as tif:
        info = json.loads(tif.pages[0].description)["histoseg_labels"]
        assert tif.pages[0].resolution == pytest.approx((2e4, 2e4))   # px per cm at 0.5 µm/px
    assert info["classes"] == CLASSES and info["source"] == str(path)
    assert not caplog.records                        # tifffile found nothing to complain about
