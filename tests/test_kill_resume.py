"""Kill a segmenting process with SIGKILL at random moments, resume, and compare every
array of the results with an uninterrupted run, byte for byte.

Children come from a multiprocessing fork server that imported torch and the
package once (so a child starts in milliseconds, and never inherits the test
process's busy thread pools); each runs the engine and is killed at a random
moment, often while tiles are saved but not yet published (inside a batch).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import assert_same_arrays, tissue_like_rgb, write_pyramid_tiff
from .kill_child import segment_child

pytestmark = pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="needs a fork server")

KILLS = 20


@pytest.fixture(scope="module")
def children():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.kill_child"])
    return context


def _start(context, slide_path: Path, out: Path):
    process = context.Process(target=segment_child, args=(slide_path, out), daemon=True)
    process.start()
    return process


def _wait(process) -> int:
    process.join(timeout=120)
    assert process.exitcode is not None, "a segmenting child hung"
    return process.exitcode


def _saved_but_not_done(out: Path) -> int:
    """Tiles whose prediction is on disk but not recorded as done (killed inside a batch)."""
    import zarr

    root = out / "results.zarr"
    if not (root / "zarr.json").is_file():
        return 0
    done = zarr.open_array(root / "histoseg" / "done", mode="r")[...].astype(bool)
    saved = np.zeros_like(done)
    for chunk in (root / "histoseg" / "tiles" / "c").glob("*/*"):
        saved[int(chunk.parent.name), int(chunk.name)] = True
    return int((saved & ~done).sum())


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_equals_an_uninterrupted_run(tmp_path, children):
    image = tissue_like_rgb((192, 320), seed=11)
    image[:, :48] = 255  # some glass: tiles skipped, pixels not computed
    slide = write_pyramid_tiff(tmp_path / "case.tif", image, levels=1, tile=64,
                               compression="zlib")
    reference = tmp_path / "reference"
    assert _wait(_start(children, slide, reference)) == 0  # also starts the fork server
    start = time.perf_counter()
    assert _wait(_start(children, slide, tmp_path / "again")) == 0
    duration = time.perf_counter() - start
    assert_same_arrays(tmp_path / "again" / "results.zarr", reference / "results.zarr")
    rng = np.random.default_rng(0)
    kills, inside_a_batch, attempt = 0, 0, 0
    while kills < KILLS:
        attempt += 1
        out = tmp_path / f"killed-{attempt}"
        while True:
            process = _start(children, slide, out)
            time.sleep(rng.uniform(0.0, duration))
            try:
                os.kill(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it had already finished
            if _wait(process) == 0:
                break  # it finished before the kill
            kills += 1
            inside_a_batch += _saved_but_not_done(out) > 0
        assert _wait(_start(children, slide, out)) == 0  # a last resume, to the end
        assert_same_arrays(out / "results.zarr", reference / "results.zarr")
    assert inside_a_batch > 0, "no kill landed between saving tiles and recording them"
