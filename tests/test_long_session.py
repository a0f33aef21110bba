"""A short long session: 16 segment + edit + commit cycles in one process leak nothing.

The full 200 cycles: ``benchmarks/long_session.py``.
"""

from __future__ import annotations

import sys

import pytest

from .long_session import run_session

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


@pytest.mark.slow
def test_sixteen_cycles_keep_memory_threads_and_files_flat(tmp_path):
    report = run_session(tmp_path, cycles=16, side=256)
    growth = report.growth(warm_up=6)
    assert report.records == 16
    assert growth["threads"] == 0 and growth["os_threads"] <= 0, growth
    assert growth["fds"] <= 0, growth
    assert growth["rss"] < 0.10, growth
