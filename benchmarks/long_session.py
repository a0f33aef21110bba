"""A long session in one process: N segment + edit + commit cycles, memory and handles.

The full version of tests/test_long_session.py (16 cycles). Each cycle segments a
384² synthetic slide from scratch with a tiny model, paints a square into the mask and
commits it as the Corrections dock does (``io.edit_commit.commit_edit``: the record,
level 0 and every overview; see tests/long_session.py).
The baseline is the process after the warm-up cycles, measured in the same run: the
ratio is RSS at the end / RSS after warm-up; threads and open files must not grow.

Run:  .venv/bin/python benchmarks/long_session.py [--cycles 200] [--warm-up 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.long_session import run_session  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--warm-up", type=int, default=20)
    parser.add_argument("--side", type=int, default=384)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report = run_session(Path(folder), args.cycles, args.side)
    growth = report.growth(args.warm_up)
    print(f"{args.cycles} cycles ({report.records} corrections committed) in "
          f"{report.seconds:.0f} s, {report.seconds / args.cycles:.2f} s per cycle")
    print(f"RSS after {args.warm_up} warm-up cycles {growth['rss_first_mib']:.1f} MiB, at the end "
          f"{growth['rss_last_mib']:.1f} MiB (max {growth['rss_max_mib']:.1f}): ratio "
          f"{1 + growth['rss']:.3f} (growth {100 * growth['rss']:.1f} %, limit 10 %)")
    print(f"threads {growth['threads']:+d} (OS threads {growth['os_threads']:+d}), "
          f"open files {growth['fds']:+d} after warm-up")
    for index in range(0, args.cycles, max(args.cycles // 10, 1)):
        s = report.samples[index]
        print(f"  cycle {index + 1:4d}: RSS {s.rss_mib:7.1f} MiB, threads {s.threads}, "
              f"fds {s.fds}")
    leaked = growth["threads"] > 0 or growth["fds"] > 0 or growth["rss"] >= 0.10
    sys.exit(1 if leaked else 0)


if __name__ == "__main__":
    main()
