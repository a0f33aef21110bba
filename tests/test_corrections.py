"""The correction store: records, area changed, delete, manifest rebuild, recovery, samples."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_histoseg.io.correction_samples import correction_samples
from napari_histoseg.io.corrections import (Correction, CorrectionError, CorrectionStore,
                                            he_region)
from napari_histoseg.io.slide import open_slide


def correction(location=(1000, 2000), side=40, changed=(10, 20), mpp=(0.5, 0.25),
               value=1) -> Correction:
    """A ``side``² edit at 4 level-0 px per mask px that sets ``changed`` (h, w) pixels."""
    rng = np.random.default_rng(side)
    before = np.zeros((side, side), dtype=np.uint8)
    after = before.copy()
    after[5:5 + changed[0], 5:5 + changed[1]] = value
    return Correction(image=rng.integers(0, 256, (side, side, 3), dtype=np.uint8), after=after,
                      before=before, location=location, size=(4 * side, 4 * side), mpp=mpp,
                      slide="/slides/a.svs", slide_sha256="ab12", model_sha256="cd34",
                      author="ann")


@pytest.fixture
def store(tmp_path) -> CorrectionStore:
    return CorrectionStore(tmp_path / "ws.histoseg" / "corrections")


def test_a_commit_is_one_record_holding_pixels_and_provenance(store):
    record_id = store.commit(correction())
    assert store.ids() == [record_id]
    loaded = store.load(record_id)
    original = correction()
    for name in ("image", "after", "before"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(original, name))
    assert (loaded.location, loaded.size, loaded.mpp) == ((1000, 2000), (160, 160), (0.5, 0.25))
    assert (loaded.slide, loaded.slide_sha256, loaded.model_sha256, loaded.author) == (
        "/slides/a.svs", "ab12", "cd34", "ann")
    assert loaded.record_id == record_id and loaded.time.startswith("20")
    assert loaded.downsample == (4.0, 4.0)


def test_area_changed_is_in_square_micrometres_per_record(store):
    store.commit(correction(changed=(10, 20)))                 # 200 px of 0.5 x 0.25 µm
    store.commit(correction(changed=(4, 4), mpp=(2.0, 2.0)))   # 16 px of 4 µm²
    assert [e["area_changed_um2"] for e in store.entries()] == [25.0, 64.0]
    assert store.total_area_changed_um2() == 89.0


def test_delete_moves_the_record_aside_and_returns_the_models_pixels(store):
    first, second = store.commit(correction()), store.commit(correction(location=(0, 0)))
    deleted = store.delete(first)
    np.testing.assert_array_equal(deleted.before, correction().before)
    assert store.ids() == [second]
    assert [e["record_id"] for e in store.entries()] == [second]
    assert (store.root / "deleted" / f"{first}.npz").is_file()
    with pytest.raises(CorrectionError, match=f"{first}.npz: no such correction record"):
        store.delete(first)


def test_the_manifest_is_rebuilt_from_the_records(store):
    ids = [store.commit(correction(location=(i, i))) for i in range(3)]
    entries = store.entries()
    store.manifest_path.unlink()
    assert store.entries() == entries and store.manifest_path.is_file()
    stale = json.loads(store.manifest_path.read_text())
    stale["records"] = stale["records"][:1]                    # as if a crash came between
    store.manifest_path.write_text(json.dumps(stale))          # a record and its manifest
    assert [e["record_id"] for e in store.entries()] == ids
    assert [e["location"] for e in CorrectionStore(store.root).entries()] == [[0, 0], [1, 1],
                                                                              [2, 2]]


def test_recovery_file_round_trip(store):
    assert store.load_recovery() is None
    draft = correction(changed=(3, 3))
    store.save_recovery(draft)
    restored = store.load_recovery()
    np.testing.assert_array_equal(restored.after, draft.after)
    assert restored.location == draft.location
    assert restored.area_changed_um2 == draft.area_changed_um2
    store.clear_recovery()
    assert store.load_recovery() is None and store.ids() == []


def test_damaged_or_pickled_records_are_refused_with_their_name(store):
    store.commit(correction())
    damaged = store.records_dir / "20000101T000000000000Z-abcdef.npz"
    damaged.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(CorrectionError, match="20000101T000000000000Z-abcdef.npz: not a readable"):
        store.entries()
    np.savez(damaged, meta=np.array([{"format": "histoseg-correction"}], dtype=object))
    with pytest.raises(CorrectionError, match="not a readable correction record.*pickle"):
        store.load("20000101T000000000000Z-abcdef")
    with pytest.raises(CorrectionError, match="'../../x' is not a record id"):
        store.load("../../x")


def test_a_correction_with_mismatched_arrays_is_refused():
    good = correction()
    with pytest.raises(ValueError, match="one size"):
        Correction(image=good.image, after=good.after, before=good.before[:-1],
                   location=(0, 0), size=(4, 4), mpp=(1.0, 1.0), slide="s")


def test_samples_for_training_weigh_the_latest_edit_of_each_pixel(store):
    store.commit(correction(location=(0, 0), side=40))         # level-0 box 0..160
    store.commit(correction(location=(80, 80), side=20, value=2))   # covers 80..160 of it
    samples = list(correction_samples(store.root.parent))
    assert [s.mask.max() for s in samples] == [1, 2]
    older, newer = samples
    assert older.weight.shape == (40, 40) and older.weight.dtype == np.float32
    assert older.weight[20:, 20:].max() == 0 and older.weight[:20].min() == 1
    assert older.weight.sum() == 40 * 40 - 20 * 20
    assert newer.weight.min() == 1 and newer.mpp == (0.5, 0.25)
    assert older.changed.sum() == 200 and older.provenance["author"] == "ann"
    assert older.provenance["model_sha256"] == "cd34"


def test_leftovers_of_killed_writers_are_cleaned_when_old(store):
    import os

    old, young = (store.records_dir / f".tmp-{n}-x.npz.part" for n in ("old", "young"))
    old.write_bytes(b"partial")
    young.write_bytes(b"partial")
    os.utime(old, (0, 0))
    assert store.ids() == []
    CorrectionStore(store.root)
    assert not old.exists() and young.exists()     # a live writer may still own the young one


def test_the_he_under_an_edit_is_read_at_the_masks_resolution(pyramid_tiff):
    slide = open_slide(pyramid_tiff)                  # levels at downsample 1, 2, 4
    exact = he_region(slide, (256, 512), (512, 512), (256, 256))
    np.testing.assert_array_equal(exact, slide.read_region(1, (128, 256), (256, 256)))
    resampled = he_region(slide, (256, 512), (512, 512), (170, 170))   # 3.01 px per px
    assert resampled.shape == (170, 170, 3) and resampled.dtype == np.uint8
    assert abs(float(resampled.mean()) - float(exact.mean())) < 2.0
