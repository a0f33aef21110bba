"""Files that are whole or absent after a crash: temporary file, fsync, rename, fsync the folder.

The temporary file lies in the target's folder (a rename is atomic only within one
file system) and starts with ``.tmp-``, so readers can skip and clean up leftovers
of a writer that was killed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import time
from pathlib import Path
from typing import BinaryIO, Iterator

from napari_histoseg.io.errors import DiskFullError

TEMP_PREFIX = ".tmp-"
FULL_DISK = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


@contextlib.contextmanager
def full_disk_reported(path: str | Path) -> Iterator[None]:
    """Turn "no space left" / "quota exceeded" while writing ``path`` into ``DiskFullError``,
    a message that names the file and what to do."""
    try:
        yield
    except DiskFullError:
        raise
    except Exception as err:
        code = _full_disk_code(err)
        if code is None:
            raise
        raise DiskFullError(path, "the disk is full (or the quota is used up), so it was not "
                                  "saved; nothing was half-written and what was saved before is "
                                  "intact. Free some space and save again", code) from err


def _full_disk_code(err: Exception) -> int | None:
    """ENOSPC/EDQUOT for a full-disk error: an OSError, or a library's own error that
    wraps one (safetensors reports "No space left on device (os error 28)")."""
    if isinstance(err, OSError):
        return err.errno if err.errno in FULL_DISK else None
    text = str(err)
    return errno.ENOSPC if "No space left on device" in text or "os error 28" in text else None


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[BinaryIO]:
    """Open a binary file that appears at ``path`` only when the block ends without error.

    On error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    temp = temporary_name(path)
    try:
        with full_disk_reported(path):
            with open(temp, "wb") as file:
                yield file
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def temporary_name(path: str | Path) -> Path:
    """A sibling of ``path`` that no other writer uses, named so ``remove_leftovers`` finds it."""
    path = Path(path)
    return path.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}-{path.name}.part")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_writer(path) as file:
        file.write(data)
    return Path(path)


def atomic_replace(source: str | Path, target: str | Path) -> None:
    """Rename ``source`` to ``target`` (same file system) and make the rename durable."""
    os.replace(source, target)
    fsync_dir(Path(target).parent)
    if Path(source).parent != Path(target).parent:
        fsync_dir(Path(source).parent)


def fsync_dir(folder: str | Path) -> None:
    """Flush a folder's entries (a rename or unlink in it) to disk; a no-op where unsupported."""
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


def remove_leftovers(folder: str | Path, older_than_s: float = 600.0) -> int:
    """Delete temporary files that killed writers left in ``folder``; returns how many.

    Only files untouched for ``older_than_s`` seconds go, so a live writer keeps its own.
    """
    removed, now = 0, time.time()
    for leftover in Path(folder).glob(f"{TEMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime >= older_than_s:
                leftover.unlink()
                removed += 1
    return removed


def append_line(path: str | Path, line: str) -> None:
    """Append one text line with a single write; a torn last line of an earlier crash is
    ended first, so it stays one bad line that readers skip. A full disk raises
    ``DiskFullError`` (a partly written line is such a torn line)."""
    with full_disk_reported(path), open(path, "ab+") as handle:
        handle.seek(0, os.SEEK_END)
        prefix = b""
        if handle.tell():
            handle.seek(-1, os.SEEK_END)
            prefix = b"" if handle.read(1) == b"\n" else b"\n"
        handle.write(prefix + line.rstrip("\n").encode("utf-8") + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
