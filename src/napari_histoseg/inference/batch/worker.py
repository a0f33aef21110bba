"""What runs on a dask worker: the per-worker model cache and the task that segments one slide.

:class:`ModelCache` is a ``distributed.WorkerPlugin``: registered once by the
client, it lives on every worker (also on workers that join or are restarted
later) and loads each model the first time a task asks for it, so a worker
loads a model once however many slides it segments. :func:`segment_slide` is
the task: it runs the single-process engine (``session.prepare_run`` and
``start_run``) on one whole slide, reading tiles straight from the slide file
and writing into the slide's own workspace under the workspace lock, so no two
tasks ever write to the same store. A slide is the unit of work because a
store's blended blocks, overviews and ``done`` record are chunks shared by
neighbouring tiles. Progress goes to the client as ``Worker.log_event``
messages on the batch's topic.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from distributed import Event, WorkerPlugin, get_worker

from napari_histoseg.inference.events import BatchSizeReduced, Progress
from napari_histoseg.inference.session import (ResolvedModel, SegmentRequest, prepare_run,
                                                resolve_model, start_run)
from napari_histoseg.io.errors import FileError

PLUGIN_NAME = "histoseg-model-cache"


@dataclass(frozen=True)
class SlideOutcome:
    """How one slide ended: ``status`` is "done", "cancelled" or "failed" (with ``error``).

    ``seconds`` is wall time on the worker (failed slides: on the client, all tries).
    """

    slide: str
    status: str
    seconds: float
    error: str = ""
    tiles_computed: int = 0
    tiles_already_done: int = 0
    workspace: str = ""
    worker: str = ""


class ModelCache(WorkerPlugin):
    """Models by spec (checkpoint path or name), loaded once per worker; the last ``keep``.

    Args:
        torch_threads: torch's intra-op threads on this worker (None: leave torch's
            default), so several workers on one machine do not oversubscribe its cores.
        loader: spec -> ResolvedModel (default ``session.resolve_model``).
    """

    idempotent = True  # a second batch on the same cluster keeps the loaded models
    name = PLUGIN_NAME

    def __init__(self, torch_threads: int | None = None,
                 loader: Callable[[str], ResolvedModel] | None = None, keep: int = 2):
        self.torch_threads, self.loader, self.keep = torch_threads, loader, keep
        self.loads = 0
        self._models: OrderedDict[str, ResolvedModel] = OrderedDict()
        self._lock = threading.Lock()

    def setup(self, worker) -> None:
        if self.torch_threads:
            import torch

            torch.set_num_threads(self.torch_threads)

    def model(self, spec: str, warn: Callable[[str], None]) -> ResolvedModel:
        """The loaded model for ``spec``, loading it on first use (thread-safe)."""
        with self._lock:
            if spec not in self._models:
                load = self.loader or (lambda s: resolve_model(s, warn))
                self._models[spec] = load(spec)
                self.loads += 1
            self._models.move_to_end(spec)
            while len(self._models) > self.keep:
                self._models.popitem(last=False)
            return self._models[spec]

    def __getstate__(self) -> dict:  # sent to workers without loaded models or the lock
        return {"torch_threads": self.torch_threads, "loader": self.loader, "keep": self.keep}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)


def segment_slide(index: int, request: SegmentRequest, topic: str,
                  cancel_name: str | None = None) -> SlideOutcome:
    """Segment ``request.slide_path`` whole on this worker; report progress on ``topic``.

    A slide that cannot be used (bad file, busy or foreign workspace: FileError; a
    missing checkpoint) ends as "failed" at once, since retrying cannot help; other
    errors are raised so that dask retries the task.
    """
    worker = get_worker()
    report = _Reporter(worker, topic, index)
    report("started")
    start = time.perf_counter()
    try:
        prepared = _prepare(worker.plugins[PLUGIN_NAME], request, report)
        plan = prepared.plan
        report("planned", done=int(plan.store.done_tiles().ravel()[plan.tiles].sum()),
               total=len(plan.tiles))
        cancel = Event(cancel_name) if cancel_name else None
        summary = _drive(start_run(prepared, cancel=cancel), report)
    except (FileError, FileNotFoundError) as err:
        return SlideOutcome(str(request.slide_path), "failed", time.perf_counter() - start,
                            str(err), worker=worker.address)
    return SlideOutcome(str(request.slide_path), "cancelled" if summary.cancelled else "done",
                        time.perf_counter() - start, tiles_computed=summary.tiles_computed,
                        tiles_already_done=summary.tiles_already_done,
                        workspace=str(prepared.workspace.root), worker=worker.address)


def _prepare(cache: ModelCache, request: SegmentRequest, report):
    """``prepare_run`` with the worker's cached model (the slide's default when unnamed)."""
    from napari_histoseg.inference.model_choice import default_model
    from napari_histoseg.io.slide import open_slide

    warn = lambda message: report("warning", message=message)  # noqa: E731
    spec = request.model or str(default_model(open_slide(request.slide_path)))
    return prepare_run(request, cache.model(spec, warn), warn=warn)


def _drive(run, report):
    """Consume the engine's generator, reporting progress; its RunSummary."""
    while True:
        try:
            event = next(run)
        except StopIteration as stop:
            return stop.value
        if isinstance(event, Progress):
            report("progress", done=event.done, total=event.total)
        elif isinstance(event, BatchSizeReduced):
            report("warning", message=event.message)


class _Reporter:
    """Sends ``{"index", "kind", "worker", ...}`` to the client on the batch's topic."""

    def __init__(self, worker, topic: str, index: int):
        self.worker, self.topic, self.index = worker, topic, index

    def __call__(self, kind: str, **fields) -> None:
        self.worker.log_event(self.topic, {"index": self.index, "kind": kind,
                                           "worker": self.worker.address, **fields})
