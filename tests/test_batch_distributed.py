"""Batch segmentation on a dask.distributed LocalCluster: the same bytes as the single-process
engine, the model loaded once per worker, a failing slide reported while the others finish,
and the ``histoseg segment`` batch command. Workers are threads of this process (fast); the
test that kills a worker is in test_batch_kill.py."""

from __future__ import annotations

import argparse
import contextlib
import csv
from dataclasses import replace

import pytest

pytest.importorskip("distributed")

from distributed import Client, LocalCluster  # noqa: E402

from napari_histoseg.inference.batch.manifest import BatchItem  # noqa: E402
from napari_histoseg.inference.batch.runner import run_batch  # noqa: E402
from napari_histoseg.inference.batch.worker import PLUGIN_NAME  # noqa: E402
from napari_histoseg.inference.segment_command import add_segment_command  # noqa: E402
from napari_histoseg.inference.session import SegmentRequest  # noqa: E402
from napari_histoseg.models.registry import ModelConfig, create_model, save_checkpoint  # noqa: E402

from .batch_helpers import single_process_run, write_slides  # noqa: E402
from .conftest import assert_same_arrays  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


@pytest.fixture
def checkpoint(tmp_path):
    """A tiny HI-Net checkpoint (random weights) for 64 px tiles."""
    config = ModelConfig(architecture="hinet", hyperparameters={"size": "tiny"}, tile_size=64)
    return save_checkpoint(create_model("hinet", size="tiny"), config,
                           tmp_path / "model.safetensors")


@pytest.fixture
def request_for(checkpoint):
    return SegmentRequest(slide_path=checkpoint, model=str(checkpoint), level=0, halo=16,
                          batch_size=8, device="cpu")


def _run(client, items, template, cache=None):
    """(outcomes, events) of a batch with one retry per slide."""
    run = run_batch(client, items, template, retries=1, cache=cache)
    events = []
    while True:
        try:
            events.append(next(run))
        except StopIteration as stop:
            return stop.value, events


def _loads(client) -> int:
    """Models loaded by the workers' caches so far."""
    def count(dask_worker):
        cache = dask_worker.plugins.get(PLUGIN_NAME)
        return cache.loads if cache is not None else 0

    return sum(client.run(count).values())


def test_three_slides_on_two_workers_match_the_single_process_run(client, request_for, tmp_path):
    slides = write_slides(tmp_path / "slides", 3, (256, 320))
    items = [BatchItem(s, tmp_path / "batch" / s.name) for s in slides]
    loads_before = _loads(client)
    outcomes, events = _run(client, items, request_for)
    assert [o.status for o in outcomes] == ["done"] * 3, outcomes
    assert all(o.tiles_computed == 80 for o in outcomes)
    for slide in slides:
        reference = single_process_run(request_for, slide, tmp_path / "single" / slide.name)
        assert_same_arrays(tmp_path / "batch" / slide.name / "results.zarr", reference)
    assert 1 <= _loads(client) - loads_before <= 2  # once per worker, not once per slide
    progress = [e for e in events if e.kind == "progress"]
    assert {e.index for e in progress} == {0, 1, 2}
    last = {e.index: (e.done, e.total) for e in progress}  # each slide's last progress
    assert last == {0: (80, 80), 1: (80, 80), 2: (80, 80)}


def test_a_bad_slide_is_reported_and_the_others_finish(client, request_for, tmp_path):
    good = write_slides(tmp_path, 1, (128, 128))[0]
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"not a tiff at all")
    items = [BatchItem(bad), BatchItem(good)]
    outcomes, events = _run(client, items, request_for)
    assert outcomes[0].status == "failed" and "broken.tif" in outcomes[0].error
    assert outcomes[1].status == "done" and outcomes[1].tiles_computed > 0
    assert [e.index for e in events if e.kind == "finished"].count(0) == 1


def test_a_slide_whose_workspace_is_busy_fails_at_once_without_retries(client, request_for,
                                                                         tmp_path):
    from napari_histoseg.io.workspace import workspace_lock

    slide = write_slides(tmp_path, 1, (128, 128))[0]
    out = tmp_path / "busy"
    out.mkdir()
    with workspace_lock(out):  # another run is writing there
        outcomes, events = _run(client, [BatchItem(slide, out)], request_for)
    assert outcomes[0].status == "failed" and "another segmentation run" in outcomes[0].error
    assert [e.kind for e in events].count("started") == 1


def test_a_task_that_raises_is_retried(client, request_for, tmp_path):
    from napari_histoseg.inference.batch.worker import ModelCache

    from .batch_helpers import FailOnceLoader

    slide = write_slides(tmp_path, 1, (128, 128))[0]
    _drop_cache(client)  # the module's cache, to register a failing one
    try:
        outcomes, events = _run(client, [BatchItem(slide)], request_for,
                                ModelCache(loader=FailOnceLoader(tmp_path / "failed-once")))
    finally:
        _drop_cache(client)
    assert outcomes[0].status == "done", outcomes
    assert [e.kind for e in events].count("started") == 2  # the first try, then the retry


def test_cancel_stops_every_slide_and_the_same_batch_resumes(client, request_for, tmp_path):
    import threading

    slides = write_slides(tmp_path / "slides", 2, (256, 320))
    items = [BatchItem(s, tmp_path / "batch" / s.name) for s in slides]
    template = replace(request_for, publish_s=0.0)  # progress after every batch
    cancel = threading.Event()
    run = run_batch(client, items, template, cancel=cancel)
    while True:
        try:
            event = next(run)
        except StopIteration as stop:
            outcomes = stop.value
            break
        if event.kind == "progress":
            cancel.set()
    assert [o.status for o in outcomes] == ["cancelled"] * 2, outcomes
    assert sum(o.tiles_computed for o in outcomes) < 160
    resumed, _ = _run(client, items, template)
    assert [o.status for o in resumed] == ["done"] * 2
    assert [o.tiles_already_done for o in resumed] == [o.tiles_computed for o in outcomes]
    assert sum(o.tiles_already_done + o.tiles_computed for o in resumed) == 160


def _drop_cache(client) -> None:
    with contextlib.suppress(ValueError):  # none registered yet
        client.unregister_worker_plugin(PLUGIN_NAME)


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="histoseg")
    add_segment_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_segment_command_runs_a_manifest_on_a_scheduler_and_writes_a_summary(
        client, checkpoint, tmp_path, capsys):
    slides = write_slides(tmp_path / "cases", 2, (128, 160))
    manifest = tmp_path / "slides.csv"
    manifest.write_text("slide\ncases/case-0.tif\ncases/missing-later.tif\n")
    (tmp_path / "cases" / "missing-later.tif").write_bytes(b"broken")
    summary = tmp_path / "summary.csv"
    code = _main(["segment", str(slides[1]), "--manifest", str(manifest), "--model",
                  str(checkpoint), "--level", "0", "--halo", "16", "--device", "cpu",
                  "--scheduler", client.scheduler.address, "--summary", str(summary)])
    assert code == 1  # one slide failed
    rows = list(csv.DictReader(summary.open()))
    assert [(r["slide"].rsplit("/", 1)[-1], r["status"]) for r in rows] == [
        ("case-1.tif", "done"), ("case-0.tif", "done"), ("missing-later.tif", "failed")]
    assert "missing-later.tif" in rows[2]["error"]
    out = capsys.readouterr()
    assert "dashboard:" in out.out and "2 of 3 slides done" in out.out
    assert "missing-later.tif: failed" in out.err


def test_single_slide_still_runs_in_this_process(checkpoint, tmp_path, capsys):
    slide = write_slides(tmp_path, 1, (128, 128))[0]
    assert _main(["segment", str(slide), "--model", str(checkpoint), "--level", "0",
                  "--halo", "16", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "tiles computed" in out and "dashboard" not in out


def test_export_ome_is_refused_for_a_batch(checkpoint, tmp_path):
    slides = write_slides(tmp_path, 2, (128, 128))
    with pytest.raises(ValueError, match="--export-ome writes one slide's mask"):
        _main(["segment", *map(str, slides), "--export-ome", str(tmp_path / "m.ome.tif")])


def test_slide_reads_stay_in_this_process_while_a_client_is_active(client, tmp_path):
    """A slide's levels wrap its open file; with a default Client they must not be sent to it."""
    from napari_histoseg.io.slide import open_slide

    slide = open_slide(write_slides(tmp_path, 1, (256, 320))[0])
    assert slide.thumbnail(64).shape[:2] == (51, 64)
    dask_only = replace(slide, region_readers=())  # read_region's dask path
    assert dask_only.read_region(1, (0, 0), (32, 32)).shape == (32, 32, 3)
