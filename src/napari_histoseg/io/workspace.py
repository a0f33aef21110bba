"""A slide's workspace folder: its result store, run log, identity and lock.

Layout of ``<slide>.histoseg/`` (or a folder the user chooses, or, when the
slide's folder cannot be written, a per-user folder from platformdirs keyed by
the slide's identity)::

    workspace.json     which slide this folder belongs to: path and identity hash
    results.zarr/      the ResultStore (OME-Zarr; see io/results.py)
    runs.jsonl         one JSON record per run event (model, hash, params, timings)
    .lock              held (filelock) while a run writes

``workspace.json`` is replaced atomically (temporary file, fsync, rename);
``runs.jsonl`` is appended a whole line at a time and a torn last line is
skipped when read. A workspace that holds results of another slide refuses
to mix them in.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from pathlib import Path
from typing import Iterator

from napari_histoseg.io.atomic import append_line, atomic_write_bytes
from napari_histoseg.io.identity import slide_identity
from napari_histoseg.io.results import (ResultSpec, ResultStore, WorkspaceError,
                                        pyramid_shapes)

__all__ = ["ResultSpec", "ResultStore", "RunLog", "Workspace", "WorkspaceBusyError",
           "WorkspaceError", "pyramid_shapes", "workspace_dir_for"]

WORKSPACE_SUFFIX = ".histoseg"
APP_NAME = "napari-histoseg"
#: workspace.json and the results' zarr.json larger than these are damaged, never read.
MAX_INFO_BYTES = 64 * 1024
MAX_STORE_METADATA_BYTES = 1024 * 1024


class WorkspaceBusyError(WorkspaceError):
    """Another run holds the workspace's lock."""


class RunLog:
    """Append-only JSON lines: one record per run event; a torn last line is skipped."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, record: dict) -> None:
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **record},
                          default=str)
        append_line(self.path, line)

    def records(self) -> list[dict]:
        if not self.path.is_file():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a line torn by a crash
        return records


def folder_writable(folder: Path) -> bool:
    """Whether ``folder`` exists or can be made, and a file can be created in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".histoseg-write-test-{time.monotonic_ns()}"
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False


def fallback_dir(slide_path: Path, identity: str) -> Path:
    """The per-user workspace of a slide whose own folder cannot be written."""
    import platformdirs

    base = Path(platformdirs.user_data_dir(APP_NAME)) / "workspaces"
    return base / f"{Path(slide_path).name}-{identity[:16]}{WORKSPACE_SUFFIX}"


def workspace_dir_for(slide_path: str | Path, out_dir: str | Path | None = None) -> Path:
    """Where the results of ``slide_path`` are (or will be) stored.

    ``out_dir`` when given; else ``<slide>.histoseg`` beside the slide when it
    exists or can be created; else the per-user :func:`fallback_dir`.
    """
    if out_dir is not None:
        return Path(out_dir)
    default = Workspace.default_dir(slide_path)
    if default.is_dir() or folder_writable(default.parent):
        return default
    return fallback_dir(Path(slide_path), slide_identity(slide_path))


class Workspace:
    """The folder of one slide's results. Build with :meth:`open` or :meth:`find`."""

    def __init__(self, root: Path, slide_path: Path | None, foreign: str | None = None):
        self.root = Path(root)
        self.slide_path = slide_path
        self.run_log = RunLog(self.root / "runs.jsonl")
        self._foreign = foreign

    @staticmethod
    def default_dir(slide_path: str | Path) -> Path:
        """``<slide>.histoseg`` beside the slide file."""
        slide_path = Path(slide_path)
        return slide_path.with_name(slide_path.name + WORKSPACE_SUFFIX)

    @classmethod
    def open(cls, slide_or_dir: str | Path, out_dir: str | Path | None = None) -> Workspace:
        """Open (creating if needed) the workspace of a slide file, or a workspace folder.

        Args:
            slide_or_dir: a slide file (its workspace is ``out_dir``, else
                ``<slide>.histoseg``, else a per-user folder when the slide's
                folder cannot be written), or an existing workspace folder.
            out_dir: a folder to use instead.
        """
        path = Path(slide_or_dir)
        if path.is_dir() and out_dir is None:
            slide = _read_info(path).get("slide")
            return cls(path, Path(slide) if slide else None)
        if not path.is_file():
            raise WorkspaceError(path, "neither a slide file nor a workspace folder")
        root = workspace_dir_for(path, out_dir)
        identity = slide_identity(path)
        try:
            root.mkdir(parents=True, exist_ok=True)
            info = _read_info(root)
            foreign = _foreign_slide(info, identity)
            if not foreign and info.get("identity") != identity:
                _write_info(root, path, identity)
        except OSError as err:
            raise WorkspaceError(root, f"cannot create the workspace folder ({err}); "
                                       "choose another with --out") from err
        return cls(root, path, foreign)

    @classmethod
    def find(cls, slide_path: str | Path) -> Workspace | None:
        """The existing workspace of ``slide_path`` (default, else per-user), or None.

        Creates nothing; for readers that only show earlier results.
        """
        identity = slide_identity(slide_path)
        for folder in (cls.default_dir(slide_path), fallback_dir(Path(slide_path), identity)):
            if folder.is_dir():
                return cls(folder, Path(slide_path), _foreign_slide(_read_info(folder), identity))
        return None

    @property
    def results_path(self) -> Path:
        return self.root / "results.zarr"

    def results(self) -> ResultStore | None:
        """The stored results, or None when there are none yet.

        Raises:
            WorkspaceError: they are damaged, or belong to another slide.
        """
        if not (self.results_path / "zarr.json").is_file():
            return None
        size = (self.results_path / "zarr.json").stat().st_size
        if size > MAX_STORE_METADATA_BYTES:
            raise WorkspaceError(self.results_path, (
                f"its zarr.json is {size:,} bytes, far more than results metadata needs; "
                "the results are damaged. Recompute them with 'Start over' (--restart)"))
        if self._foreign:
            raise WorkspaceError(self.root, (
                f"holds the results of another slide ({self._foreign}), not of "
                f"{self.slide_path}; choose another folder (--out) or replace them (--restart)"))
        return ResultStore.open(self.results_path)

    def results_for(self, spec: ResultSpec, restart: bool = False) -> ResultStore:
        """The store for a run with ``spec``: the existing one to resume, or a new one.

        Raises:
            WorkspaceError: results of a different slide, model or grid are present,
                or damaged ones, and ``restart`` is False.
            WorkspaceBusyError: another run is writing here.
        """
        with self.lock():
            if not restart:
                existing = self.results()
                if existing is None:
                    return self._create(spec)
                if existing.spec == spec:
                    return existing
                raise WorkspaceError(self.results_path, (
                    f"holds results of another run (model {existing.spec.model!r}, "
                    f"tile_size {existing.spec.grid.tile_size}, halo {existing.spec.grid.halo}, "
                    f"downsample {existing.spec.grid.downsample:g}); restart to replace them "
                    "(--restart) or write elsewhere (--out DIR)"))
            return self._create(spec)

    def _create(self, spec: ResultSpec) -> ResultStore:
        for stale in self.root.glob(f"{self.results_path.name}.*-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a crash during creation
        store = ResultStore.create(self.results_path, spec)
        if self.slide_path is not None and self._foreign:
            _write_info(self.root, self.slide_path, slide_identity(self.slide_path))
            self._foreign = None
        return store

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold this workspace's lock; WorkspaceBusyError at once if another run has it."""
        with workspace_lock(self.root):
            yield


@contextlib.contextmanager
def workspace_lock(root: Path) -> Iterator[None]:
    """Hold the lock file ``root/.lock`` (filelock); refuse at once when it is taken."""
    from filelock import FileLock, Timeout

    lock = FileLock(Path(root) / ".lock", timeout=0)
    try:
        lock.acquire()
    except Timeout as err:
        raise WorkspaceBusyError(root, "another segmentation run is writing here; wait for it "
                                       "to finish, or choose another folder (--out)") from err
    try:
        yield
    finally:
        lock.release()


def _read_info(root: Path) -> dict:
    """``workspace.json`` of ``root``; {} when absent, {"damaged": ...} when it is unreadable,
    larger than ``MAX_INFO_BYTES`` or not {"slide": str, "identity": str}."""
    path = Path(root) / "workspace.json"
    if not path.is_file():
        return {}
    try:
        if path.stat().st_size > MAX_INFO_BYTES:
            return {"damaged": f"{path.stat().st_size:,} bytes, more than a workspace.json "
                               f"holds ({MAX_INFO_BYTES:,})"}
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        return {"damaged": str(err)[:200]}
    if not isinstance(info, dict):
        return {"damaged": "not a JSON object"}
    for key, limit in (("slide", 4096), ("identity", 256)):
        if key in info and not (isinstance(info[key], str) and 0 < len(info[key]) <= limit):
            return {"damaged": f"its {key!r} is not a string of 1-{limit} characters"}
    return info


def _foreign_slide(info: dict, identity: str) -> str | None:
    """The other slide a workspace belongs to, or None when it is this one's (or new)."""
    if "damaged" in info:
        return f"unknown: its workspace.json is damaged ({info['damaged']})"
    recorded = info.get("identity")
    return None if recorded in (None, identity) else str(info.get("slide", "unknown"))


def _write_info(root: Path, slide_path: Path, identity: str) -> None:
    text = json.dumps({"slide": str(Path(slide_path).resolve()), "identity": identity}, indent=1)
    atomic_write_bytes(Path(root) / "workspace.json", text.encode("utf-8"))
