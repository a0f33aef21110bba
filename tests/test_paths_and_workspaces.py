"""Names read from files never reach outside their folder, and a damaged workspace never
stops a slide from opening."""

from __future__ import annotations

import json
import random

import pytest

from napari_histoseg import _reader
from napari_histoseg.inference.plan import GridParams, ModelInfo, plan_run
from napari_histoseg.io.corrections import CorrectionError, CorrectionStore
from napari_histoseg.io.errors import FileError
from napari_histoseg.io.safe_paths import inside
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.synthetic.config import SynthConfig
from napari_histoseg.io.synthetic.pair import read_pair
from napari_histoseg.io.workspace import Workspace
from napari_histoseg.training.dataset_format import DatasetError, read_manifest

from .conftest import tissue_like_rgb, write_pyramid_tiff

ESCAPES = ["../secret.tif", "a/../../secret.tif", "/etc/passwd", "C:\\Windows\\x.tif",
           "\\\\server\\share\\x.tif", "..", "", 5, None, "x\0.tif"]


@pytest.mark.parametrize("name", ESCAPES)
def test_names_that_leave_their_folder_are_refused(tmp_path, name):
    with pytest.raises(FileError, match=r"pair\.json: files\.he .* relative paths inside"):
        inside(tmp_path, name, "files.he", tmp_path / "pair.json")


def test_plain_names_and_subfolders_pass_but_links_out_do_not(tmp_path):
    assert inside(tmp_path, "he.tif", "x", tmp_path) == tmp_path / "he.tif"
    assert inside(tmp_path, "images/p-1.png", "x", tmp_path) == tmp_path / "images" / "p-1.png"
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (tmp_path / "link").symlink_to(outside)
    with pytest.raises(FileError, match="resolves outside its folder"):
        inside(tmp_path, "link/he.tif", "x", tmp_path)


def test_a_pair_json_pointing_outside_its_folder_is_refused(tmp_path):
    files = {"he": "../../home/user/other.tif", "ck56": "ck56.tif", "labels": "labels.tif",
             "tumour": "tumour.tif"}
    (tmp_path / "pair.json").write_text(json.dumps(
        {"config": SynthConfig().as_dict(), "affine": [[1, 0, 0], [0, 1, 0]], "files": files}))
    with pytest.raises(FileError, match=r"pair\.json: files\.he '\.\./\.\./home/user/other\.tif'"):
        read_pair(tmp_path)
    (tmp_path / "pair.json").write_text('{"files": 3}')
    with pytest.raises(FileError, match=r"pair\.json: not a valid synthetic-pair sidecar"):
        read_pair(tmp_path)


def test_a_dataset_manifest_pointing_outside_its_folder_is_refused(tmp_path):
    patch = {"id": "p0", "split": "train", "source": "s", "group": "g",
             "image": "images/p0.png", "mask": "../../../etc/shadow", "location": [0, 0],
             "size": [8, 8], "tumour_fraction": 0.5, "tissue_fraction": 1.0}
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"format": "napari-histoseg-dataset", "format_version": 1, "mpp": 1.0,
         "class_names": ["n", "t"], "stain": None, "params": {}, "sources": [],
         "patches": [patch]}))
    with pytest.raises(DatasetError, match=r"manifest\.json: patch 'p0' mask .*climbs out"):
        read_manifest(tmp_path)


def test_checkpoint_and_record_names_cannot_climb_out(tmp_path):
    from napari_histoseg.models.library import LibraryError, ModelLibrary

    library = ModelLibrary(tmp_path / "library")
    with pytest.raises(LibraryError, match="no model called '../evil'"):
        library.adopt("../evil")
    weights = tmp_path / "m.safetensors"
    weights.write_bytes(b"")
    with pytest.raises(LibraryError):
        library.add(weights, name="../../evil")
    store = CorrectionStore(tmp_path / "corrections")
    with pytest.raises(CorrectionError):
        store.load("../../../etc/passwd")


@pytest.fixture
def slide_with_results(tmp_path):
    path = write_pyramid_tiff(tmp_path / "slide.tif", tissue_like_rgb((256, 256)), levels=1,
                              tile=64)
    slide = open_slide(path)
    info = ModelInfo("m", "", ("normal", "tumour"), ("#000000", "#ff0000"))
    plan_run(slide, Workspace.open(path), GridParams(tile_size=64, halo=0), info)
    assert len(_reader.slide_and_result_layer_data(slide)) == 2  # slide + mask
    return slide, Workspace.default_dir(path)


def _opens_with_one_warning(slide, monkeypatch) -> list[str]:
    warned = []
    monkeypatch.setattr(_reader, "_warn", warned.append)
    layers = _reader.slide_and_result_layer_data(slide)
    assert layers[0][2] == "image" and layers[0][1]["name"] == "slide.tif"
    return warned


@pytest.mark.parametrize("target, content", [
    ("workspace.json", b"\x00garbage{"), ("workspace.json", b"[1, 2]"),
    ("workspace.json", b'{"slide": 5, "identity": "x"}'),
    ("workspace.json", b'{"slide": "' + b"a" * 100_000 + b'"}'),
    ("results.zarr/zarr.json", b"not json"), ("results.zarr/zarr.json", b" " * 2_000_000),
    ("results.zarr/zarr.json", b'{"zarr_format": 3, "node_type": "group", '
                               b'"attributes": {"histoseg": {"format": 7}}}'),
])
def test_a_damaged_workspace_never_stops_the_slide(slide_with_results, monkeypatch, target,
                                                   content):
    slide, root = slide_with_results
    (root / target).write_bytes(content)
    warned = _opens_with_one_warning(slide, monkeypatch)
    assert len(warned) == 1 and "Start over" in warned[0]


def test_results_whose_metadata_reads_but_does_not_make_sense(slide_with_results,
                                                             monkeypatch):
    slide, root = slide_with_results
    meta_path = root / "results.zarr" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["attributes"]["histoseg"]["spec"]["slide_mpp"] = []
    meta_path.write_text(json.dumps(meta))
    warned = _opens_with_one_warning(slide, monkeypatch)
    assert len(warned) == 1 and "slide.tif: its saved results cannot be shown" in warned[0]


def test_byte_mutated_workspace_files_never_stop_the_slide(slide_with_results, monkeypatch):
    slide, root = slide_with_results
    originals = {name: (root / name).read_bytes()
                 for name in ("workspace.json", "results.zarr/zarr.json")}
    rng = random.Random(0)
    for trial in range(120):
        name = rng.choice(sorted(originals))
        data = bytearray(originals[name])
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        (root / name).write_bytes(bytes(data))
        _opens_with_one_warning(slide, monkeypatch)
        (root / name).write_bytes(originals[name])
