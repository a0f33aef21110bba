"""Region lists: explain.json round trip, CSV and GeoJSON exports."""

from __future__ import annotations

import csv
import io
import json

import pytest

from napari_histoseg.explain.key_regions import KeyRegion
from napari_histoseg.explain.region_files import (ExplainFileError, export_regions,
                                                  load_explanation, save_explanation)
from napari_histoseg.explain.uncertainty import ReviewItem
from napari_histoseg.io.errors import FileError

REGIONS = [KeyRegion(0, (100.0, 200.0, 612.0, 712.0), 0.8, 0.9, 0.888889),
           KeyRegion(1, (0.0, 0.0, 512.0, 512.0), 0.5, 0.5, 1.0)]
QUEUE = [ReviewItem(0, (1, 2), (768.0, 1536.0, 1536.0, 2304.0), 0.7, 0.3, 0.5)]


def test_explanation_round_trips_through_the_workspace(tmp_path):
    save_explanation(tmp_path, REGIONS, QUEUE, {"layer": "p2"})
    assert load_explanation(tmp_path) == (REGIONS, QUEUE, {"layer": "p2"})
    assert load_explanation(tmp_path / "elsewhere") is None


def test_a_damaged_explanation_names_its_file(tmp_path):
    (tmp_path / "explain.json").write_text("{not json")
    with pytest.raises(ExplainFileError, match="explain.json: cannot be read"):
        load_explanation(tmp_path)


def test_csv_has_boxes_in_pixels_and_centres_in_micrometres(tmp_path):
    path = export_regions(REGIONS, tmp_path / "regions.csv", slide_mpp=(0.25, 0.5))
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [r["rank"] for r in rows] == ["0", "1"]
    assert rows[0]["y0_px"] == "100" and rows[0]["x1_px"] == "712"
    assert float(rows[0]["centre_y_um"]) == pytest.approx(356 * 0.25)
    assert float(rows[0]["centre_x_um"]) == pytest.approx(456 * 0.5)
    assert float(rows[0]["tumour"]) == pytest.approx(0.888889)


def test_geojson_has_one_closed_rectangle_per_region_in_x_y_order(tmp_path):
    path = export_regions(QUEUE, tmp_path / "queue.geojson", slide_mpp=(0.5, 0.5))
    (feature,) = json.loads(path.read_text())["features"]
    ring = feature["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] == [1536.0, 768.0] and ring[2] == [2304.0, 1536.0]
    assert feature["properties"]["classification"]["name"] == "review"
    assert feature["properties"]["measurements"]["entropy"] == 0.7


def test_unknown_export_format_is_named(tmp_path):
    with pytest.raises(FileError, match="regions.txt: unknown export format"):
        export_regions(REGIONS, tmp_path / "regions.txt", slide_mpp=(1.0, 1.0))
