"""Provenance: model and runs from the run log, corrections from the correction store; tissue
from the slide's thumbnail."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg.io.corrections import Correction, CorrectionStore
from napari_histoseg.io.workspace import RunLog, Workspace
from napari_histoseg.report.areas import TISSUE_FROM_COMPUTED, TISSUE_FROM_THUMBNAIL
from napari_histoseg.report.slide_report import build_report

from .conftest import write_pyramid_tiff
from .report_data import write_results

SHA = "ab" * 32


def edit(changed_px: int, author: str) -> Correction:
    before = np.zeros((20, 20), np.uint8)
    after = before.copy()
    after.ravel()[:changed_px] = 1
    return Correction(image=np.zeros((20, 20, 3), np.uint8), after=after, before=before,
                      location=(0, 0), size=(40, 40), mpp=(2.0, 2.0), slide="s.tif",
                      model_sha256=SHA, author=author)


def test_runs_and_corrections_are_reported(tmp_path):
    root = tmp_path / "ws"
    write_results(root, np.zeros((64, 64), np.uint8), model="hinet-x", model_sha256=SHA)
    log = RunLog(root / "runs.jsonl")
    log.append({"event": "segment-start", "checkpoint_sha256": SHA})
    log.append({"event": "segment-end", "checkpoint_sha256": SHA, "elapsed_s": 12.5,
                "device": "cpu"})
    log.append({"event": "segment-end", "checkpoint_sha256": "other", "elapsed_s": 99})
    log.append({"event": "segment-end", "checkpoint_sha256": SHA, "elapsed_s": 2.5,
                "device": "cuda"})
    corrections = CorrectionStore(root / "corrections")
    corrections.commit(edit(100, "ann"))
    corrections.commit(edit(50, "bob"))
    p = build_report(root).provenance
    assert (p.model, p.model_sha256, p.runs, p.run_seconds, p.device) == (
        "hinet-x", SHA, 2, 15.0, "cuda")
    assert p.last_run
    assert p.corrected and p.corrections == 2 and p.authors == ("ann", "bob")
    assert p.corrected_mm2 == pytest.approx(150 * 4 / 1e6)


def test_an_uncorrected_mask_without_runs_says_so(tmp_path):
    write_results(tmp_path / "ws", np.zeros((64, 64), np.uint8))
    p = build_report(tmp_path / "ws").provenance
    assert not p.corrected and p.runs == 0 and p.note == ""
    assert not (tmp_path / "ws" / "corrections").exists()     # a report creates nothing


def test_a_damaged_correction_is_a_note_not_a_failure(tmp_path):
    root = tmp_path / "ws"
    write_results(root, np.zeros((64, 64), np.uint8))
    store = CorrectionStore(root / "corrections")
    record = store.record_path(store.commit(edit(10, "ann")))
    record.write_bytes(b"not a zip")
    store.manifest_path.unlink()
    p = build_report(root).provenance
    assert record.name in p.note and p.corrections == 0


def test_tissue_comes_from_the_slide_thumbnail(tmp_path):
    image = np.full((512, 512, 3), 255, np.uint8)
    image[:, :256] = (180, 90, 170)                       # tissue on the left half only
    slide = write_pyramid_tiff(tmp_path / "case.tif", image, mpp=0.5, levels=2, tile=128,
                               compression="zlib")
    mask = np.zeros((256, 256), np.uint8)                 # 2 slide px per mask px: 1 µm/px
    mask[:, 120:140] = 1                                  # tumour reaching into the glass
    mask[200:, :] = 255                                   # not computed: bottom rows
    workspace = Workspace.open(slide)
    write_results(workspace.root, mask, mpp=0.5, downsample=2.0)
    report = build_report(slide)
    assert report.areas.tissue_source == TISSUE_FROM_THUMBNAIL
    tissue_px = 200 * 128 + 200 * 12                      # left half, plus tumour beyond it
    assert report.areas.tissue_mm2 == pytest.approx(tissue_px / 1e6, rel=0.01)
    assert report.areas.tissue_not_computed_mm2 == pytest.approx(56 * 128 / 1e6, rel=0.01)
    assert report.areas.tumour_fraction == pytest.approx(200 * 20 / tissue_px, rel=0.01)
    assert not report.complete


def test_without_the_slide_the_computed_pixels_are_the_tissue(tmp_path):
    mask = np.zeros((100, 100), np.uint8)
    mask[:10] = 1
    mask[50:] = 255
    write_results(tmp_path / "ws", mask, mpp=1.0)
    areas = build_report(tmp_path / "ws").areas
    assert areas.tissue_source == TISSUE_FROM_COMPUTED
    assert areas.tissue_mm2 == pytest.approx(5000 / 1e6)
    assert areas.tumour_fraction == pytest.approx(0.2)
