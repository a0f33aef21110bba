"""A full disk while saving leaves every record whole or absent and says so clearly.

Two ways: a patched fsync that fails with ENOSPC (always runs), and a real 256 KiB tmpfs
(runs where the tests may mount one, i.e. as root on Linux).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import numpy as np
import pytest

from napari_histoseg.io import atomic
from napari_histoseg.io.corrections import Correction, CorrectionStore
from napari_histoseg.io.errors import DiskFullError


def _correction(seed: int, side: int = 64) -> Correction:
    rng = np.random.default_rng(seed)
    return Correction(image=rng.integers(0, 255, (side, side, 3), dtype=np.uint8),
                      after=rng.integers(0, 2, (side, side), dtype=np.uint8),
                      before=np.zeros((side, side), np.uint8), location=(0, 0),
                      size=(side, side), mpp=(1.0, 1.0), slide="slide.tif")


def _no_leftovers(folder) -> bool:
    return not [p for p in folder.rglob("*") if p.name.startswith(atomic.TEMP_PREFIX)]


def test_a_commit_on_a_full_disk_fails_clearly_and_keeps_earlier_records(tmp_path, monkeypatch):
    store = CorrectionStore(tmp_path / "corrections")
    first = store.commit(_correction(1))

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(DiskFullError, match=r"records/.*\.npz: the disk is full.*Free some space"):
        store.commit(_correction(2))
    monkeypatch.undo()
    assert store.ids() == [first] and _no_leftovers(tmp_path)
    assert np.array_equal(store.load(first).after, _correction(1).after)
    assert [e["record_id"] for e in store.entries()] == [first]
    assert isinstance(DiskFullError("x", "y", errno.ENOSPC), OSError)  # old handlers still catch


def _mount_tiny_tmpfs(folder) -> bool:
    if sys.platform != "linux" or os.geteuid() != 0:
        return False
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
                          capture_output=True)
    return done.returncode == 0


@pytest.fixture
def tiny_disk(tmp_path):
    folder = tmp_path / "tiny"
    if not _mount_tiny_tmpfs(folder):
        pytest.skip("cannot mount a tmpfs here (needs root on Linux)")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_filling_a_real_disk_with_corrections_loses_nothing(tiny_disk):
    from napari_histoseg.models.registry import ModelConfig, create_model, save_checkpoint

    store = CorrectionStore(tiny_disk / "corrections")
    saved, failures = [], 0
    for seed in range(40):
        try:
            saved.append((store.commit(_correction(seed, side=96)), seed))
        except DiskFullError:
            failures += 1
    assert saved and failures, "the disk should fill part way"
    assert store.ids() == [record_id for record_id, _ in saved] and _no_leftovers(tiny_disk)
    for record_id, seed in saved:
        assert np.array_equal(store.load(record_id).after, _correction(seed, side=96).after)
    with pytest.raises(DiskFullError, match=r"big\.safetensors: the disk is full"):
        save_checkpoint(create_model("hinet", size="small"), ModelConfig("hinet", {"size": "small"}),
                        tiny_disk / "big.safetensors")
    assert not list(tiny_disk.glob("big*")) and _no_leftovers(tiny_disk)


def test_a_full_disk_mid_run_stops_it_clearly_and_a_resume_finishes_the_same(tmp_path,
                                                                            monkeypatch):
    from napari_histoseg.inference.engine import SegmentParams, segment
    from napari_histoseg.inference.plan import GridParams, ModelInfo, plan_run
    from napari_histoseg.io import result_update
    from napari_histoseg.io.slide import open_slide
    from napari_histoseg.io.workspace import Workspace

    from .conftest import assert_same_arrays, tissue_like_rgb, write_pyramid_tiff
    from .segmentation_models import PurpleModel

    info = ModelInfo("purple", "", ("normal", "tumour"), ("#000000", "#ff0000"))
    params = SegmentParams(batch_size=2, device="cpu", publish_tiles=2)
    grid = GridParams(tile_size=64, halo=8, min_tissue_fraction=-1)
    stores = []
    for name in ("full", "calm"):
        path = write_pyramid_tiff(tmp_path / f"{name}.tif", tissue_like_rgb((192, 192)),
                                  levels=1, tile=64)
        slide = open_slide(path)
        stores.append((slide, plan_run(slide, Workspace.open(path), grid, info)))
    (slide, plan), (calm_slide, calm_plan) = stores
    original, calls = result_update.ResultUpdater.save_tiles, []

    def fills_up(self, indices, predictions):
        calls.append(len(indices))
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, indices, predictions)

    monkeypatch.setattr(result_update.ResultUpdater, "save_tiles", fills_up)
    with pytest.raises(DiskFullError, match=r"full\.tif\.histoseg/results\.zarr: the disk is full"):
        for _ in segment(slide, PurpleModel(), plan, params):
            pass
    monkeypatch.undo()
    done = plan.store.done_tiles()
    assert 0 < done.sum() < done.size  # what was published before the disk filled is kept
    for run_slide, run_plan in ((slide, plan), (calm_slide, calm_plan)):
        for _ in segment(run_slide, PurpleModel(), plan_run(run_slide, Workspace.open(
                run_slide.path), grid, info), params):
            pass
    assert_same_arrays(plan.store.path, calm_plan.store.path)
