"""Errors that name the file and say what to do."""

from __future__ import annotations

from pathlib import Path


class FileError(ValueError):
    """A file or folder that cannot be used; the message starts with its path, then the cause."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class SlideError(FileError):
    """A slide file that cannot be opened or read."""


class CorruptTileError(SlideError):
    """One stored tile of an otherwise readable slide cannot be read or decoded."""


class DiskFullError(FileError, OSError):
    """Saving stopped because the disk (or the user's quota) is full; nothing was half-written.

    Also an OSError (errno ENOSPC or EDQUOT), so handlers of failed writes still catch it.
    """

    def __init__(self, path, problem: str, errno: int):
        super().__init__(path, problem)
        self.errno = errno
