"""Byte-mutation fuzzing of the slide reader, shared by tests/test_slide_fuzz.py and
benchmarks/fuzz_slides.py.

A small valid pyramidal JPEG TIFF is mutated (bit flips, byte runs, truncation, header
and tag-value edits, inserted and deleted bytes). Each mutant is opened with ``open_slide``
and read the ways the plugin reads: ``read_region`` at four places on every level (the
engine's path), one chunk of every dask level (napari's display path) and the thumbnail.
Anything other than the project's ``SlideError`` leaving those calls is a leak.

Mutants run in a pool of worker processes, each limited to ``MEMORY_LIMIT`` bytes of
address space. A mutant that gives no answer within ``guard_s`` seconds is a hang, and a
worker that dies is a crash; both stop the run and name the mutant.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Address-space cap of a fuzz worker: an absurd allocation shows up as MemoryError (a leak).
MEMORY_LIMIT = 3 * 2**30
KINDS = ("bitflip", "byterun", "truncate", "header", "tagvalue", "insert", "delete")


def write_seed_slide(path: Path) -> Path:
    """A 192 x 256 RGB JPEG-tiled TIFF, 64² tiles, with two reduced levels (about 20 kB)."""
    import tifffile

    y, x = np.mgrid[:192, :256]
    rgb = np.stack([200 + 40 * np.sin(y / 9), 120 + 60 * np.cos(x / 7), 180 + 0 * x], -1)
    image = np.clip(rgb, 0, 255).astype(np.uint8)
    options = dict(tile=(64, 64), compression="jpeg", photometric="rgb")
    with tifffile.TiffWriter(path) as tif:
        tif.write(image, subifds=2, resolution=(2e4, 2e4), resolutionunit="CENTIMETER",
                  **options)
        for factor in (2, 4):
            tif.write(image[::factor, ::factor], subfiletype=1, **options)
    return path


def mutate(data: bytes, index: int) -> tuple[bytes, str]:
    """Mutant number ``index`` of ``data`` (deterministic) and the kind of edit made."""
    rng = random.Random(index)
    kind = KINDS[index % len(KINDS)]
    out = bytearray(data)
    if kind == "bitflip":
        for _ in range(rng.randint(1, 16)):
            position = rng.randrange(len(out))
            out[position] ^= 1 << rng.randrange(8)
    elif kind == "byterun":
        start, length = rng.randrange(len(out)), rng.randint(1, 256)
        fill = rng.choice([b"\x00", b"\xff", bytes([rng.randrange(256)])])
        out[start:start + length] = fill * len(out[start:start + length])
    elif kind == "truncate":
        out = out[:rng.randrange(len(out))]
    elif kind == "header":  # the 8-byte header and the first IFD's tags
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(min(len(out), 400))
            out[position] = rng.randrange(256)
    elif kind == "tagvalue":  # a 4-byte little-endian value somewhere in the IFDs
        position = _ifd_position(out, rng)
        value = rng.choice([0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 10**9, len(out) + 7,
                            rng.randrange(2**32)])
        out[position:position + 4] = value.to_bytes(4, "little")
    elif kind == "insert":
        position = rng.randrange(len(out))
        out[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    else:
        start = rng.randrange(len(out))
        del out[start:start + rng.randint(1, 64)]
    return bytes(out), kind


def _ifd_position(data: bytearray, rng: random.Random) -> int:
    """A byte offset inside a tag entry of the TIFF's IFDs (the value or count field)."""
    ifd = int.from_bytes(data[4:8], "little")
    starts = []
    while 8 <= ifd < len(data) - 2 and len(starts) < 8:
        count = int.from_bytes(data[ifd:ifd + 2], "little")
        starts.extend(ifd + 2 + 12 * i for i in range(min(count, 64)))
        next_at = ifd + 2 + 12 * count
        ifd = int.from_bytes(data[next_at:next_at + 4], "little") if next_at + 4 <= len(data) else 0
    if not starts:
        return rng.randrange(max(len(data) - 4, 1))
    entry = rng.choice(starts)
    return min(entry + rng.choice([4, 8]), len(data) - 4)


def exercise(path: Path) -> str:
    """Open ``path`` and read it every way the plugin does; "ok", "refused", "damaged tile"
    or "leak: ...".

    "refused": ``open_slide`` or a read raised a SlideError (the project's own clear
    error); "damaged tile": the slide opened but ``read_region`` met a tile it cannot
    decode (``CorruptTileError``, which the engine skips and records).
    """
    import dask

    from napari_histoseg.io.errors import CorruptTileError, SlideError
    from napari_histoseg.io.slide import open_slide

    try:
        with dask.config.set(scheduler="synchronous"):
            slide = open_slide(path)
            for level, (h, w) in enumerate(slide.level_shapes):
                for y, x in ((0, 0), (h // 2, w // 2), (h - 40, w - 40), (h // 3, w - 100)):
                    slide.read_region(level, (y, x), (100, 100))
                array = slide.levels[level]
                array[: min(h, 64), : min(w, 64)].compute()
            slide.thumbnail(64)
    except SlideError as err:
        if not str(err).startswith(str(path)):
            return f"leak: SlideError without the file name: {err}"
        return "damaged tile" if isinstance(err, CorruptTileError) else "refused"
    except Exception as err:  # noqa: BLE001 - that is what the fuzz looks for
        where = traceback.extract_tb(err.__traceback__)[-1]
        first_line = str(err).splitlines()[0][:120] if str(err) else ""
        return (f"leak: {type(err).__module__}.{type(err).__name__}: {first_line} "
                f"(at {Path(where.filename).name}:{where.lineno})")
    return "ok"


_SEED: bytes = b""
_WORKDIR: Path = Path(".")


def _init_worker(seed: bytes, workdir: str) -> None:
    import logging
    import resource
    import warnings

    global _SEED, _WORKDIR
    _SEED, _WORKDIR = seed, Path(workdir)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    warnings.simplefilter("ignore")  # corrupt tiles warn once; the fuzz counts outcomes
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)  # it logs every damaged tag


def _run_one(index: int) -> tuple[int, str, str, float]:
    data, kind = mutate(_SEED, index)
    path = _WORKDIR / f"mutant-{os.getpid()}.tif"
    path.write_bytes(data)
    start = time.perf_counter()
    outcome = exercise(path)
    return index, kind, outcome, time.perf_counter() - start


@dataclass
class FuzzReport:
    """Counts of a fuzz run; ``leaks`` maps mutant index to what escaped."""

    mutants: int = 0
    outcomes: Counter = field(default_factory=Counter)
    by_kind: Counter = field(default_factory=Counter)
    leaks: dict[int, str] = field(default_factory=dict)
    hangs: list[int] = field(default_factory=list)
    crashed: list[int] = field(default_factory=list)
    slowest_s: float = 0.0
    slowest: int = -1
    elapsed_s: float = 0.0


def fuzz(count: int, workers: int = 2, guard_s: float = 10.0, first: int = 0) -> FuzzReport:
    """Run mutants ``first`` .. ``first + count - 1`` of the seed slide in worker processes.

    Stops early on a hang (no answer for ``guard_s`` s) or a crashed worker; the mutants
    in flight then are listed in ``hangs`` or ``crashed``.
    """
    report = FuzzReport()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="histoseg-fuzz-") as workdir:
        seed = write_seed_slide(Path(workdir) / "seed.tif").read_bytes()
        pool = ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"),
                                   _init_worker, (seed, workdir))
        futures = {pool.submit(_run_one, index): index for index in range(first, first + count)}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=guard_s, return_when=FIRST_COMPLETED)
                if not done:
                    report.hangs = sorted(futures[f] for f in pending if f.running())
                    break
                for future in done:
                    if isinstance(future.exception(), BrokenProcessPool):
                        report.crashed = sorted(futures[f] for f in done
                                                if f.exception() is not None)[:workers * 4]
                        pending = set()
                        break
                    _tally(report, *future.result())
        finally:
            _stop(pool)
    report.elapsed_s = time.perf_counter() - start
    return report


def _stop(pool: ProcessPoolExecutor) -> None:
    """Shut the pool down without waiting for a hung worker."""
    for process in list(getattr(pool, "_processes", {}).values()):
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _tally(report: FuzzReport, index: int, kind: str, outcome: str, seconds: float) -> None:
    report.mutants += 1
    label = "leak" if outcome.startswith("leak") else outcome
    report.outcomes[label] += 1
    report.by_kind[(kind, label)] += 1
    if seconds > report.slowest_s:
        report.slowest_s, report.slowest = seconds, index
    if label == "leak":
        report.leaks[index] = outcome
