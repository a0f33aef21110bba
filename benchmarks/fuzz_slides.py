"""The slide-reader fuzz at length: N byte-mutated copies of a small pyramidal JPEG TIFF.

The longer version of tests/test_slide_fuzz.py (1,000 mutants). Each mutant is opened
with ``open_slide`` and read with ``read_region`` at four places on every level, one
chunk of every dask level (napari's display path) and the thumbnail, in worker
processes capped at 3 GiB of address space, with a 10 s guard per mutant. It prints
the outcomes per kind of mutation, and every leak (an exception other than the
project's SlideError), hang and crash. The baseline is the unmutated seed slide's read
time in the same run: the ratio is the median time per mutant / the seed's.

Run:  .venv/bin/python benchmarks/fuzz_slides.py [--mutants 10000] [--workers 2] [--first 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.slide_fuzz import KINDS, exercise, fuzz, write_seed_slide  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--first", type=int, default=0, help="index of the first mutant")
    parser.add_argument("--guard", type=float, default=10.0, help="seconds per mutant")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        seed = write_seed_slide(Path(folder) / "seed.tif")
        exercise(seed)  # imports
        start = time.perf_counter()
        assert exercise(seed) == "ok"
        seed_s = time.perf_counter() - start
    report = fuzz(args.mutants, args.workers, args.guard, args.first)
    print(f"{report.mutants} of {args.mutants} mutants (first {args.first}) in "
          f"{report.elapsed_s:.0f} s with {args.workers} workers: "
          + ", ".join(f"{n} {outcome}" for outcome, n in sorted(report.outcomes.items())))
    print(f"leaks {len(report.leaks)}, hangs {len(report.hangs)}, crashes {len(report.crashed)}; "
          f"slowest mutant {report.slowest_s:.2f} s (#{report.slowest}); "
          f"mean time per mutant (incl. file write) / seed read "
          f"{report.elapsed_s * args.workers / max(report.mutants, 1) / seed_s:.1f}")
    for kind in KINDS:
        counts = {o: n for (k, o), n in report.by_kind.items() if k == kind}
        print(f"  {kind:9s} " + ", ".join(f"{n} {o}" for o, n in sorted(counts.items())))
    for index, what in sorted(report.leaks.items())[:50]:
        print(f"  leak #{index}: {what}")
    if report.hangs or report.crashed:
        print(f"  hang: {report.hangs}  crash: {report.crashed}")
    sys.exit(1 if report.leaks or report.hangs or report.crashed else 0)


if __name__ == "__main__":
    main()
