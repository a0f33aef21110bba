"""A long review session in one process: segment, edit, commit, over and over.

Shared by tests/test_long_session.py (a short run) and benchmarks/long_session.py (200
cycles). Each cycle segments a small synthetic slide from scratch (``plan_run`` with
``restart=True``, then the engine to the end; the writer lays the earlier corrections
over the new results, as for a user), paints a square into the mask and commits it as
the Corrections dock does (``io.edit_commit.commit_edit``: the record, then level 0 and
every overview).

After each cycle it records RSS, Python threads, OS threads and open file descriptors
(Linux /proc), after a garbage collection.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Sample:
    """One cycle's process state: RSS in MiB, thread and file-descriptor counts."""

    rss_mib: float
    threads: int
    os_threads: int
    fds: int


@dataclass
class SessionReport:
    samples: list[Sample] = field(default_factory=list)
    records: int = 0
    seconds: float = 0.0

    def growth(self, warm_up: int) -> dict[str, float]:
        """RSS growth as a fraction, and thread / fd change, from cycle ``warm_up`` to the end."""
        first, last = self.samples[warm_up - 1], self.samples[-1]
        return {"rss": last.rss_mib / first.rss_mib - 1, "threads": last.threads - first.threads,
                "os_threads": last.os_threads - first.os_threads, "fds": last.fds - first.fds,
                "rss_first_mib": first.rss_mib, "rss_last_mib": last.rss_mib,
                "rss_max_mib": max(s.rss_mib for s in self.samples[warm_up - 1:])}


def sample() -> Sample:
    """The current process's state (Linux)."""
    gc.collect()
    with open("/proc/self/statm") as statm:
        rss_pages = int(statm.read().split()[1])
    return Sample(rss_mib=rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20,
                  threads=threading.active_count(),
                  os_threads=len(os.listdir("/proc/self/task")),
                  fds=len(os.listdir("/proc/self/fd")))


def run_session(folder: Path, cycles: int, side: int = 384) -> SessionReport:
    """``cycles`` segment + edit + commit cycles on a ``side``² slide written into ``folder``."""
    from napari_histoseg.inference.engine import SegmentParams, segment
    from napari_histoseg.inference.plan import GridParams, ModelInfo, plan_run
    from napari_histoseg.io.edit_commit import corrections_of
    from napari_histoseg.io.slide import open_slide
    from napari_histoseg.io.workspace import Workspace

    from .conftest import tissue_like_rgb, write_pyramid_tiff
    from .segmentation_models import PurpleModel

    path = write_pyramid_tiff(folder / "session.tif", tissue_like_rgb((side, side)), levels=2,
                              tile=128)
    slide, model = open_slide(path), PurpleModel()
    workspace = Workspace.open(path)
    corrections = corrections_of(workspace)
    info = ModelInfo("purple", "", ("normal", "tumour"), ("#000000", "#ff0000"))
    params = SegmentParams(batch_size=4, device="cpu", publish_tiles=8)
    report, start, rng = SessionReport(), time.perf_counter(), np.random.default_rng(0)
    for cycle in range(cycles):
        plan = plan_run(slide, workspace, GridParams(tile_size=128, halo=16,
                                                     min_tissue_fraction=-1), info, restart=True)
        for _ in segment(slide, model, plan, params, run_log=workspace.run_log):
            pass
        _edit_and_commit(slide, workspace, plan.store, rng)
        report.samples.append(sample())
    report.records = len(corrections.ids())
    report.seconds = time.perf_counter() - start
    return report


def _edit_and_commit(slide, workspace, store, rng) -> None:
    """Paint a 32² square of tumour into a 48² window of the mask and commit it."""
    from napari_histoseg.io.edit_commit import Edit, commit_edit
    from napari_histoseg.io.mask_edit import EditWindow, read_window

    mask = store.mask_levels()[0]
    y, x = (int(v) for v in rng.integers(0, min(mask.shape) - 48, size=2))
    window = EditWindow((y, x), (48, 48))
    labels = read_window(store, window)
    labels[8:40, 8:40] = 1
    image = slide.read_region(0, (y, x), (48, 48))  # the mask's grid is level 0 here
    commit_edit(workspace, store, Edit(window, labels, image, slide=str(slide.path)))
