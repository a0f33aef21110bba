"""Names read from files (pair.json, dataset manifests) that must stay inside their folder.

A sidecar or manifest lists files relative to its own folder. A damaged or crafted one
could name ``../../elsewhere`` or an absolute path and make the plugin read or write
outside that folder; ``inside`` refuses such names with the caller's FileError.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

from napari_histoseg.io.errors import FileError

#: Longest relative name accepted (characters).
MAX_NAME = 255


def inside(root: str | Path, name: object, what: str, source: str | Path,
           error: type[FileError] = FileError) -> Path:
    """``root / name`` when ``name`` is a relative path that stays inside ``root``.

    Args:
        root: the folder the name is relative to.
        name: the value read from the file (anything; only a str can pass).
        what: what the name is, for the message (e.g. "files.he").
        source: the file the name was read from (named in the error).
        error: the FileError subclass to raise.

    Raises:
        error: ``name`` is not a string, is empty or too long, absolute, has a drive,
            a ``..`` part or a NUL byte, or resolves (through links) outside ``root``.
    """
    problem = _problem(name)
    if problem is None:
        root = Path(root)
        target = root / str(name)
        try:
            target.resolve().relative_to(root.resolve())
        except ValueError:
            problem = "resolves outside its folder (through a link)"
        else:
            return target
    raise error(source, f"{what} {name!r} {problem}; names in it must be relative paths "
                        f"inside {Path(root)}")


def _problem(name: object) -> str | None:
    if not isinstance(name, str) or not name:
        return "is not a file name"
    if len(name) > MAX_NAME or "\0" in name:
        return "is too long or holds a NUL byte"
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or name.startswith(("/", "\\")):
        return "is an absolute path"
    if ".." in posix.parts or ".." in windows.parts:
        return "climbs out of its folder with '..'"
    return None
