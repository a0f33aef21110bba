"""Files that are whole or absent after a crash: temporary file, fsync, rename.

>>> write_atomic(Path("workspace.json"), b'{"slide": "a.svs"}')   # doctest: +SKIP
>>> append_line(Path("runs.jsonl"), '{"event": "segment-start"}')  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temporary_name(path: Path) -> Path:
    """A sibling of ``path`` that no other process writes to."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that ``path`` always holds the old or the new bytes."""
    return write_atomic_with(path, lambda tmp: tmp.write_bytes(data))


def write_atomic_with(path: Path, write: Callable[[Path], object]) -> Path:
    """Let ``write`` fill a temporary file, fsync it, and rename it to ``path``."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return path


def append_line(path: Path, line: str) -> None:
    """Append one text line with a single write; a torn last line of an earlier crash is
    ended first, so it stays one bad line that readers skip."""
    path = Path(path)
    with open(path, "ab+") as handle:
        handle.seek(0, os.SEEK_END)
        prefix = b""
        if handle.tell():
            handle.seek(-1, os.SEEK_END)
            prefix = b"" if handle.read(1) == b"\n" else b"\n"
        handle.write(prefix + line.rstrip("\n").encode("utf-8") + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
