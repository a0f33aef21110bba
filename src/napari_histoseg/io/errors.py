"""Errors that name the file and say what to do."""

from __future__ import annotations

from pathlib import Path


class SlideError(ValueError):
    """A slide file that cannot be opened or read.

    The message always starts with the file's name, then the cause.
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
