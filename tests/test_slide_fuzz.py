"""1,000 byte-mutated copies of a small pyramidal JPEG TIFF: only SlideError, no hang, no crash.

The mutation and the reads are in tests/slide_fuzz.py; benchmarks/fuzz_slides.py runs
more mutants and prints the figures of docs/reliability.md.
"""

from __future__ import annotations

import pytest

from .slide_fuzz import KINDS, exercise, fuzz, mutate, write_seed_slide


def test_the_seed_slide_reads_cleanly_and_mutants_differ(tmp_path):
    seed = write_seed_slide(tmp_path / "seed.tif")
    assert exercise(seed) == "ok"
    data = seed.read_bytes()
    mutants = [mutate(data, index) for index in range(len(KINDS))]
    assert {kind for _, kind in mutants} == set(KINDS)
    assert all(mutant != data for mutant, _ in mutants)
    assert mutate(data, 3) == mutate(data, 3)


@pytest.mark.slow
def test_a_thousand_mutants_raise_only_slide_errors_without_hangs_or_crashes():
    report = fuzz(1000, workers=2, guard_s=10.0)
    assert not report.hangs, f"mutants {report.hangs} gave no answer within 10 s"
    assert not report.crashed, f"a worker died on one of mutants {report.crashed}"
    assert report.mutants == 1000
    assert not report.leaks, "\n".join(f"mutant {i}: {what}" for i, what in report.leaks.items())
    # the fuzz reaches every outcome, so it tests something
    assert min(report.outcomes[o] for o in ("ok", "refused", "damaged tile")) > 50
