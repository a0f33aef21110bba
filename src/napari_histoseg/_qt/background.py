"""What the Segment dock's worker thread does around the engine, so the GUI thread does little.

* :func:`yield_cpu_to_the_gui` lowers the worker's scheduling priority;
* :func:`display_view` prepares the display cache of a run's results,
  reusing the previous run's levels (and so its layers' data) where it can;
* :func:`batch_events` folds the engine's per-tile events into one event per
  batch, re-reading the changed result chunks here instead of on the GUI thread.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from dataclasses import dataclass

from napari_histoseg.inference.events import Progress, TileResult
from napari_histoseg.inference.session import PreparedRun
from napari_histoseg.io.display_cache import ResultView


@dataclass(frozen=True)
class Planned:
    """What the worker hands the GUI once a run is planned: the run, its display cache,
    its result layers (built, not yet added), tiles already done, and warnings."""

    prepared: PreparedRun
    view: ResultView
    layers: list
    done: int
    warnings: list[str]


def yield_cpu_to_the_gui() -> None:
    """Lower the calling thread's scheduling priority (Linux: per-thread nice +10).

    Threads it starts later (tile prefetch, writer, torch's pool) inherit it, so
    on a busy machine the GUI thread gets a core first. Elsewhere this does nothing.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                           min(os.getpriority(os.PRIO_PROCESS, 0) + 10, 19))


def display_view(store, show_probability: bool, previous: ResultView | None) -> ResultView:
    """The display cache for ``store``: ``previous`` re-pointed at it, or a new warmed one."""
    if previous is not None and previous.reuse_for(store, show_probability):
        return previous
    view = ResultView(store, show_probability)
    view.warm_from(previous)  # read now what the layers showed last run
    return view


def batch_events(run, view: ResultView):
    """The engine's events without TileResults; before each Progress, the finished
    tiles' boxes are re-read into ``view``. Returns the engine's summary."""
    boxes = []
    try:
        while True:
            try:
                event = next(run)
            except StopIteration as stop:
                return stop.value
            if isinstance(event, TileResult):
                boxes.append((event.location, event.size))
                continue
            if isinstance(event, Progress) and boxes:
                view.update(boxes)
                boxes = []
            yield event
    finally:
        run.close()
