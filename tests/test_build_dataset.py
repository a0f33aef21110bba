"""The dataset builder: encodings, resampling, the tumour-fraction rule, leak-free splits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from napari_histoseg.training.build_dataset import BuildParams, assign_splits, build_dataset, patch_boxes
from napari_histoseg.training.dataset_format import DatasetError, read_manifest
from napari_histoseg.training.sources import MaskEncoding, SourceError, source_from_dict
from tests.training_data import write_pairs


def test_splits_are_by_group_with_eight_one_one_shares():
    groups = [f"g{i}" for i in range(20)] * 3          # three patches per group
    splits = assign_splits(groups, (0.8, 0.1, 0.1), seed=4)
    assert sorted(splits.values()).count("test") == 2 and sorted(splits.values()).count("val") == 2
    assert assign_splits(groups, (0.8, 0.1, 0.1), seed=4) == splits        # reproducible
    assert set(assign_splits(["a", "b"], (0.8, 0.1, 0.1), 0).values()) == {"train"}


def test_patch_boxes_cover_the_image():
    boxes = patch_boxes((700, 512), 512, None)
    assert boxes == [(0, 0, 512, 512), (188, 0, 512, 512)]
    assert patch_boxes((300, 200), 512, None) == [(0, 0, 300, 200)]


def test_build_resamples_filters_and_never_leaks(tmp_path):
    folder = write_pairs(tmp_path / "blobs", count=12, size=128)
    source = source_from_dict({"name": "blobs", "path": str(folder), "mpp": 0.5})
    params = BuildParams(mpp=1.0, patch_size=512, tumour_fraction=(0.05, 0.995), stain="none")
    manifest = build_dataset([source], tmp_path / "out", params)
    assert manifest.patches == read_manifest(tmp_path / "out").patches
    assert all(p.size == (64, 64) for p in manifest.patches)                  # 0.5 -> 1 µm/px halves
    assert all(0.05 <= p.tumour_fraction <= 0.995 for p in manifest.patches)
    splits_of_group = {}
    for patch in manifest.patches:
        splits_of_group.setdefault(patch.group, set()).add(patch.split)
    assert all(len(s) == 1 for s in splits_of_group.values())
    assert {p.split for p in manifest.patches} == {"train", "val", "test"}
    mask = np.asarray(Image.open(tmp_path / "out" / manifest.patches[0].mask))
    assert set(np.unique(mask)) <= {0, 1} and mask.shape == (64, 64)
    assert (tmp_path / "out" / "summary.png").stat().st_size > 1000


def test_held_out_images_are_kept_whole_so_each_pixel_counts_once(tmp_path):
    folder = write_pairs(tmp_path / "blobs", count=12, size=96)
    source = source_from_dict({"name": "blobs", "path": str(folder), "mpp": 1.0})
    params = BuildParams(mpp=1.0, patch_size=64, tumour_fraction=(0, 1), min_tissue=0, stain="none")
    manifest = build_dataset([source], tmp_path / "out", params)
    held_out = [p for p in manifest.patches if p.split != "train"]
    assert held_out and all(p.size == (96, 96) and p.location == (0, 0) for p in held_out)
    assert len({p.group for p in held_out}) == len(held_out)
    assert {p.size for p in manifest.split("train")} == {(64, 64)}       # four overlapping boxes


def test_stain_normalisation_is_recorded_and_applied(tmp_path):
    folder = write_pairs(tmp_path / "blobs", count=3, size=96)
    source = source_from_dict({"path": str(folder), "mpp": 1.0})
    raw = build_dataset([source], tmp_path / "raw", BuildParams(stain="none", tumour_fraction=(0, 1)))
    normalised = build_dataset([source], tmp_path / "norm", BuildParams(tumour_fraction=(0, 1)))
    assert raw.stain is None and normalised.stain["method"] == "reinhard"
    assert normalised.patches[0].source_stain is not None
    before = np.asarray(Image.open(tmp_path / "raw" / raw.patches[0].image), np.float32)
    after = np.asarray(Image.open(tmp_path / "norm" / normalised.patches[0].image), np.float32)
    assert np.abs(before - after).mean() > 5


def test_rgb_encoding_maps_colours_and_rejects_unknown_ones(tmp_path):
    encoding = MaskEncoding("rgb", classes={"#000000": 0, "#00ff00": 0, "#ff0000": 1})
    mask = np.zeros((4, 4, 3), np.uint8)
    mask[0, 0] = (250, 5, 3)          # JPEG-ish red
    mask[1, 1] = (0, 255, 0)
    decoded = encoding.decode(mask, tmp_path / "m.png")
    assert decoded[0, 0] == 1 and decoded[1, 1] == 0 and decoded.sum() == 1
    mask[2, 2] = (0, 0, 255)
    with pytest.raises(SourceError, match="m.png"):
        encoding.decode(mask, tmp_path / "m.png")


def test_bad_sources_are_named(tmp_path):
    folder = write_pairs(tmp_path / "blobs", count=2, size=64)
    (folder / "masks" / "purple001.png").unlink()
    with pytest.raises(SourceError, match="without a mask"):
        build_dataset([source_from_dict({"path": str(folder), "mpp": 1.0})], tmp_path / "out")
    (folder / "masks" / "purple001.png").write_bytes(b"not a png")
    with pytest.raises(SourceError, match="purple001.png"):
        build_dataset([source_from_dict({"path": str(folder), "mpp": 1.0})], tmp_path / "out")
    with pytest.raises(ValueError, match="unknown source kind"):
        source_from_dict({"kind": "zip", "path": str(folder)})
    with pytest.raises(SourceError, match="outside"):
        source_from_dict({"path": str(folder), "mpp": 0})


def test_a_dataset_without_manifest_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="build-dataset"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(DatasetError, match="invalid manifest"):
        read_manifest(tmp_path)


def test_corrections_become_weighted_patches_with_re_edited_pixels_ignored(tmp_path):
    from napari_histoseg.io.corrections import Correction, CorrectionStore
    from tests.training_data import blob_image

    workspace = tmp_path / "slide.histoseg"
    store = CorrectionStore(workspace / "corrections")
    for index, location in enumerate([(0, 0), (0, 128), (0, 0), (400, 400)]):
        image, mask = blob_image(64, seed=index)
        store.commit(Correction(image=image, after=mask, before=np.zeros_like(mask),
                                location=location, size=(256, 256), mpp=(1.0, 1.0), slide="s.svs"))
    source = source_from_dict({"kind": "corrections", "path": str(workspace), "weight": 4.0})
    assert len(source.groups()) == 4
    manifest = build_dataset([source], tmp_path / "out",
                             BuildParams(stain="none", tumour_fraction=(0, 1), min_tissue=0))
    assert len({p.group for p in manifest.patches}) == 4
    assert all(p.weight == 4.0 and p.source == "corrections" for p in manifest.patches)
    first = next(p for p in manifest.patches if p.group.endswith(store.ids()[0]))
    mask = np.asarray(Image.open(tmp_path / "out" / first.mask))
    assert (mask == 255).all()        # wholly re-edited by the third record
    with pytest.raises(SourceError, match="no corrections"):
        source_from_dict({"kind": "corrections", "path": str(tmp_path)})
