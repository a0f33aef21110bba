"""Submit a batch to a dask.distributed cluster and follow it, as a generator of events.

:func:`open_client` connects to a scheduler by address (dask-jobqueue on
SLURM/PBS, dask-kubernetes, Coiled, ``dask scheduler``...) or starts a
``LocalCluster``. :func:`run_batch` registers the per-worker model cache,
submits one task per slide (retried ``retries`` times when it raises; a task
on a worker that dies is rerun elsewhere by the scheduler and resumes from the
tiles already done), and yields a :class:`SlideEvent` for each progress
message and each finished slide; it returns the outcomes in the batch's
order. A slide that fails for good is an outcome, never an exception, so the
others go on.

>>> with open_client(workers=2) as client:                       # doctest: +SKIP
...     run = run_batch(client, items, SegmentRequest(slide_path=Path()))
...     for event in run: print(event.index, event.kind, event.done, event.total)
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import Generator, Iterator

from distributed import Client, Event, LocalCluster

from napari_histoseg.inference.batch.manifest import BatchItem
from napari_histoseg.inference.batch.worker import ModelCache, SlideOutcome, segment_slide
from napari_histoseg.inference.session import SegmentRequest


@dataclass(frozen=True)
class SlideEvent:
    """Something that happened to slide ``index`` of the batch.

    ``kind``: "started", "planned" and "progress" (``done`` of ``total`` tiles),
    "warning" (``message``), "finished" (``outcome``).
    """

    index: int
    kind: str
    done: int = 0
    total: int = 0
    message: str = ""
    worker: str = ""
    outcome: SlideOutcome | None = None


@dataclass(frozen=True)
class BatchStarted:
    """The cluster is up: ``workers`` connected to ``scheduler``; the dashboard's address."""

    scheduler: str
    workers: int
    dashboard: str


def run_on_cluster(items: list[BatchItem], template: SegmentRequest,
                   scheduler: str | None = None, workers: int | None = None,
                   retries: int = 2, cancel: threading.Event | None = None
                   ) -> Generator[BatchStarted | SlideEvent, None, list[SlideOutcome]]:
    """:func:`run_batch` on the scheduler at ``scheduler`` or on a new LocalCluster of
    ``workers`` (torch's threads shared out among them); first yields BatchStarted."""
    threads = None if scheduler else local_torch_threads(workers or os.cpu_count() or 1)
    with open_client(scheduler, workers) as client:
        yield BatchStarted(client.scheduler.address, len(client.nthreads()),
                           client.dashboard_link)
        return (yield from run_batch(client, items, template, retries=retries,
                                     cache=ModelCache(torch_threads=threads), cancel=cancel))


@contextlib.contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None,
                processes: bool = True) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler``, or of a new LocalCluster of ``workers``
    single-threaded workers (default: one per core), closed at the end."""
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        yield client


def local_torch_threads(workers: int) -> int:
    """torch threads per worker so that ``workers`` local workers share the cores."""
    return max(1, (os.cpu_count() or 1) // max(workers, 1))


def run_batch(client: Client, items: list[BatchItem], template: SegmentRequest,
              retries: int = 2, cache: ModelCache | None = None,
              cancel: threading.Event | None = None
              ) -> Generator[SlideEvent, None, list[SlideOutcome]]:
    """Segment every slide of ``items`` with the settings of ``template``.

    Args:
        template: a SegmentRequest whose slide_path and out_dir are replaced per item.
        retries: extra tries of a slide whose task raised.
        cache: the worker plugin to register (default: a ModelCache leaving torch's
            threads alone); a cluster that has one keeps it.
        cancel: set it to stop every slide after its current batch (finished tiles
            are kept, and the same batch resumes them).
    """
    topic = f"histoseg-batch-{uuid.uuid4().hex[:12]}"
    inbox: queue.Queue = queue.Queue()
    client.register_plugin(cache or ModelCache())
    client.subscribe_topic(topic, lambda event: inbox.put(event[1]))
    stop = Event(f"{topic}-cancel", client=client)
    futures = {}
    for index, item in enumerate(items):
        request = replace(template, slide_path=item.slide, out_dir=item.out_dir)
        future = client.submit(segment_slide, index, request, topic, stop.name, retries=retries,
                               key=f"{topic}-{index}", pure=False)
        future.add_done_callback(lambda f, i=index: inbox.put({"index": i, "kind": "done"}))
        futures[index] = future
    try:
        return (yield from _follow(items, futures, inbox, stop, cancel))
    finally:
        client.unsubscribe_topic(topic)
        for future in futures.values():
            future.release()


def _follow(items, futures, inbox: queue.Queue, stop, cancel) -> Generator:
    """Turn worker messages and finished futures into SlideEvents until all are finished."""
    outcomes: dict[int, SlideOutcome] = {}
    started: dict[int, float] = {}
    while len(outcomes) < len(items):
        if cancel is not None and cancel.is_set() and not stop.is_set():
            stop.set()
        try:
            message = inbox.get(timeout=0.2)
        except queue.Empty:
            continue
        index, kind = message["index"], message["kind"]
        if index in outcomes:
            continue  # a late message of a slide already finished
        started.setdefault(index, time.monotonic())
        if kind == "done":
            outcome = _outcome(items[index], futures[index], started[index])
            outcomes[index] = outcome
            yield SlideEvent(index, "finished", outcome=outcome, worker=outcome.worker)
        else:
            yield SlideEvent(index, kind, done=message.get("done", 0),
                             total=message.get("total", 0), message=message.get("message", ""),
                             worker=message.get("worker", ""))
    return [outcomes[i] for i in range(len(items))]


def _outcome(item: BatchItem, future, started: float) -> SlideOutcome:
    """The task's SlideOutcome, or a "failed" one carrying the error of its last try."""
    if future.status == "finished":
        return future.result()
    seconds = time.monotonic() - started
    if future.status == "cancelled":
        return SlideOutcome(str(item.slide), "cancelled", seconds, "the task was cancelled")
    error = future.exception()
    return SlideOutcome(str(item.slide), "failed", seconds, f"{type(error).__name__}: {error}")
