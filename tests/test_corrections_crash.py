"""Kill a process that commits corrections, again and again: reported records survive whole."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from napari_histoseg.io.corrections import CorrectionStore

SRC = Path(__file__).resolve().parents[1] / "src"
KILLS = 60

#: The child: commits records in a loop and prints each id once commit() has returned.
#: ``make_correction`` is also run by the test to know what every record must hold.
CHILD = '''
import sys
import numpy as np
from napari_histoseg.io.corrections import Correction, CorrectionStore

def make_correction(run, index):
    rng = np.random.default_rng([run, index])
    side = int(rng.integers(48, 128))
    after = rng.integers(0, 3, (side, side), dtype=np.uint8)
    return Correction(image=rng.integers(0, 256, (side, side, 3), dtype=np.uint8),
                      after=after, before=np.roll(after, 1, axis=0),
                      location=(int(rng.integers(0, 10**5)), int(rng.integers(0, 10**5))),
                      size=(4 * side, 4 * side), mpp=(1.0, 1.0), slide=f"run{run}/{index}",
                      author="crash-test")

if __name__ == "__main__":
    store, run = CorrectionStore(sys.argv[1]), int(sys.argv[2])
    print("ready", flush=True)
    index = 0
    while True:
        record_id = store.commit(make_correction(run, index))
        print(record_id, run, index, flush=True)
        index += 1
'''


def make_correction(run: int, index: int):
    namespace: dict = {}
    exec(CHILD, namespace)
    return namespace["make_correction"](run, index)


def commit_until_killed(root: Path, run: int, rng: random.Random) -> dict[str, tuple[int, int]]:
    """Start a child, let it report 0-3 records, SIGKILL it a random moment later (mostly in
    the middle of the next commit); return every record it reported."""
    path = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(run)],
                             env={**os.environ, "PYTHONPATH": path}, stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline().strip() == "ready"
    lines = [child.stdout.readline() for _ in range(rng.randint(0, 3))]
    time.sleep(rng.uniform(0.0, 0.03))
    child.send_signal(signal.SIGKILL)
    output, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    reported = {}
    for line in ("".join(lines) + output).split("\n")[:-1]:     # a line cut by the kill was not said
        record_id, run_text, index_text = line.split()
        reported[record_id] = (int(run_text), int(index_text))
    return reported


@pytest.mark.slow
def test_records_reported_saved_survive_sigkill_whole(tmp_path):
    rng = random.Random(13)
    root = tmp_path / "corrections"
    reported: dict[str, tuple[int, int]] = {}
    for run in range(KILLS):
        reported.update(commit_until_killed(root, run, rng))
    store = CorrectionStore(root)
    ids = store.ids()
    assert set(reported) <= set(ids)
    assert len(ids) - len(reported) <= KILLS     # at most one unreported record per kill
    assert [entry["record_id"] for entry in store.entries()] == ids
    for record_id in ids:                         # every record on disk is whole
        correction = store.load(record_id)
        run, index = map(int, correction.slide[3:].split("/"))
        assert reported.get(record_id, (run, index)) == (run, index)
        expected = make_correction(run, index)
        for name in ("image", "after", "before"):
            np.testing.assert_array_equal(getattr(correction, name), getattr(expected, name))
        assert correction.location == expected.location
    assert len(reported) >= KILLS                 # the children did commit between the kills
