"""The slides of a batch (paths, folders, CSV manifests) and its summary CSV; no cluster."""

from __future__ import annotations

import csv

import pytest

from napari_histoseg.inference.batch.manifest import (ManifestError, items_from_paths,
                                                      read_manifest, slides_in_folder)
from napari_histoseg.inference.batch.summary import write_summary
from napari_histoseg.inference.batch.worker import SlideOutcome


@pytest.fixture
def cases(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    for name in ("b.svs", "a.tif", "notes.txt"):
        (folder / name).write_bytes(b"x")
    return folder


def test_manifest_paths_are_relative_to_the_manifest(cases, tmp_path):
    manifest = tmp_path / "slides.csv"
    manifest.write_text("slide,out\ncases/a.tif,\ncases/b.svs,results/b\n")
    items = read_manifest(manifest)
    assert [item.slide for item in items] == [cases / "a.tif", cases / "b.svs"]
    assert items[0].out_dir is None and items[1].out_dir == tmp_path / "results" / "b"


def test_manifest_without_a_slide_column_names_the_file(tmp_path):
    manifest = tmp_path / "slides.csv"
    manifest.write_text("path\na.tif\n")
    with pytest.raises(ManifestError, match="slides.csv: needs a header row with a 'slide'"):
        read_manifest(manifest)


def test_manifest_naming_a_missing_slide_is_refused(cases, tmp_path):
    manifest = tmp_path / "slides.csv"
    manifest.write_text("slide\ncases/a.tif\ncases/gone.svs\n")
    with pytest.raises(ManifestError, match="no such slide file: .*gone.svs"):
        read_manifest(manifest)


def test_two_slides_may_not_share_a_workspace(cases, tmp_path):
    manifest = tmp_path / "slides.csv"
    manifest.write_text("slide,out\ncases/a.tif,ws\ncases/b.svs,ws\n")
    with pytest.raises(ManifestError, match="would share the workspace"):
        read_manifest(manifest)


def test_a_folder_stands_for_its_slides_and_out_gives_each_a_workspace(cases, tmp_path):
    assert [p.name for p in slides_in_folder(cases)] == ["a.tif", "b.svs"]
    items = items_from_paths([cases], tmp_path / "out")
    assert [item.out_dir.name for item in items] == ["a.tif.histoseg", "b.svs.histoseg"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ManifestError, match="empty: holds no slide files"):
        slides_in_folder(empty)


def test_summary_has_one_row_per_slide_in_order(tmp_path):
    outcomes = [SlideOutcome("/s/a.tif", "done", 12.34, tiles_computed=80),
                SlideOutcome("/s/b.tif", "failed", 1.0, "SlideError: /s/b.tif: not a TIFF\nfile")]
    path = write_summary(outcomes, tmp_path / "sub" / "summary.csv")
    rows = list(csv.DictReader(path.open()))
    assert [(r["slide"], r["status"], r["time_s"]) for r in rows] == [
        ("/s/a.tif", "done", "12.3"), ("/s/b.tif", "failed", "1.0")]
    assert rows[1]["error"] == "SlideError: /s/b.tif: not a TIFF file"
    assert rows[0]["tiles_computed"] == "80"


def test_a_source_is_a_folder_or_a_csv_manifest(cases, tmp_path):
    from napari_histoseg.inference.batch.manifest import items_from_source

    manifest = tmp_path / "slides.csv"
    manifest.write_text("slide\ncases/b.svs\n")
    assert [i.slide.name for i in items_from_source(cases)] == ["a.tif", "b.svs"]
    assert [i.slide.name for i in items_from_source(manifest)] == ["b.svs"]
    with pytest.raises(ManifestError, match="a.tif: choose a folder of slides or a .csv"):
        items_from_source(cases / "a.tif")
