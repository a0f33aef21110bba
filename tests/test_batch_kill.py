"""Kill a dask worker process (SIGKILL) while it segments a slide: the scheduler reruns the
slide on a worker, which resumes from the tiles already done, and every slide ends byte for
byte as the single-process run."""

from __future__ import annotations

import os
import signal
from dataclasses import replace

import pytest

pytest.importorskip("distributed")

from distributed import Client, LocalCluster  # noqa: E402

from napari_histoseg.inference.batch.manifest import BatchItem  # noqa: E402
from napari_histoseg.inference.batch.runner import run_batch  # noqa: E402
from napari_histoseg.inference.batch.worker import ModelCache  # noqa: E402
from napari_histoseg.inference.session import SegmentRequest  # noqa: E402
from napari_histoseg.io.workspace import RunLog  # noqa: E402

from .batch_helpers import single_process_run, tile_mean_model, write_slides  # noqa: E402
from .conftest import assert_same_arrays  # noqa: E402

# Tiles published after every batch of 4, so the slide is half done for a long while.
TEMPLATE = SegmentRequest(slide_path=None, model="tile-mean", level=0, tile_size=64, halo=16,
                          batch_size=4, device="cpu", publish_s=0.0)


def _kill_worker(cluster: LocalCluster, address: str) -> int:
    """SIGKILL the process of the worker at ``address`` (its nanny starts a new one)."""
    nanny = next(n for n in cluster.workers.values() if n.worker_address == address)
    pid = nanny.process.process.pid
    os.kill(pid, signal.SIGKILL)
    return pid


@pytest.mark.slow
def test_killing_a_worker_mid_slide_still_completes_every_slide(tmp_path):
    slides = write_slides(tmp_path / "slides", 3, (256, 384))
    items = [BatchItem(s, tmp_path / "batch" / s.name) for s in slides]
    killed: dict[int, int] = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        run = run_batch(client, items, TEMPLATE, retries=1,
                        cache=ModelCache(torch_threads=1, loader=tile_mean_model))
        while True:
            try:
                event = next(run)
            except StopIteration as stop:
                outcomes = stop.value
                break
            if event.kind == "progress" and 0 < event.done < event.total and not killed:
                killed[event.index] = _kill_worker(cluster, event.worker)
    assert killed, "no slide was seen half done"
    assert [o.status for o in outcomes] == ["done"] * 3, outcomes
    index = next(iter(killed))
    starts = [r for r in RunLog(items[index].out_dir / "runs.jsonl").records()
              if r["event"] == "segment-start"]
    assert len(starts) == 2 and 0 < starts[1]["pending"] < starts[1]["planned"]  # resumed
    resolved = tile_mean_model("tile-mean")
    for slide in slides:
        reference = single_process_run(replace(TEMPLATE, publish_s=2.0), slide,
                                       tmp_path / "single" / slide.name, resolved)
        assert_same_arrays(tmp_path / "batch" / slide.name / "results.zarr", reference)
