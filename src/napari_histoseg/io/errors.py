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
