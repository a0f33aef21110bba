"""The model library: every model a user trained or added, kept, and which one is adopted.

A per-user folder (``platformdirs.user_data_dir("napari-histoseg")/models``, or
``$HISTOSEG_LIBRARY``) holding checkpoint pairs and the adoption history::

    NAME.safetensors, NAME.json    one entry per model; never overwritten once added
    adoptions.jsonl                one record per adopt or rollback, in order
    .lock                          held (filelock) while the history is rewritten

An entry is added by copying its weights to a temporary name, fsync, then a
no-overwrite rename (``os.link``), and its JSON config last, so a crash leaves
either a whole entry or none (a weights file without its JSON is not an entry).
The history is rewritten whole through a temporary file, fsync and rename; lines
that do not parse (a file torn by hand or by a foreign writer) are skipped.

The active model of a role (the checkpoint's architecture, e.g. ``hinet``) is the
top of a stack replayed from the history: adopt pushes, rollback pops. Importing
this module imports neither torch nor Qt.

>>> library = ModelLibrary(tmp_path)                            # doctest: +SKIP
>>> entry = library.add("runs/r1/best.safetensors", name="r1")
>>> library.adopt("r1"); library.active("hinet").name
'r1'
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from napari_histoseg.io.errors import FileError

HISTORY = "adoptions.jsonl"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class LibraryError(FileError):
    """A library operation that cannot be done; the message names the file or folder."""


def library_root(environ: dict[str, str] | None = None) -> Path:
    """``$HISTOSEG_LIBRARY`` if set, else the per-user data folder's ``models``."""
    environ = os.environ if environ is None else environ
    if environ.get("HISTOSEG_LIBRARY"):
        return Path(environ["HISTOSEG_LIBRARY"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("napari-histoseg")) / "models"


@dataclass(frozen=True)
class LibraryEntry:
    """One whole model in the library."""

    name: str
    path: Path          # the .safetensors file; its config is path.with_suffix(".json")
    role: str           # the checkpoint's architecture


class ModelLibrary:
    """The library folder at ``root`` (created on first write)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else library_root()

    @property
    def history_path(self) -> Path:
        return self.root / HISTORY

    def entries(self) -> list[LibraryEntry]:
        """Whole entries (weights and a readable JSON config), sorted by name."""
        found = []
        for weights in sorted(self.root.glob("*.safetensors")) if self.root.is_dir() else []:
            role = _role(weights.with_suffix(".json"))
            if role is not None:
                found.append(LibraryEntry(weights.stem, weights, role))
        return found

    def entry(self, name: str) -> LibraryEntry:
        """The entry called ``name``; LibraryError listing the names when there is none."""
        for entry in self.entries():
            if entry.name == name:
                return entry
        names = [e.name for e in self.entries()] or ["none yet"]
        raise LibraryError(self.root, f"no model called {name!r}; the library holds {names}")

    def add(self, checkpoint: str | Path, name: str | None = None) -> LibraryEntry:
        """Copy ``checkpoint`` (.safetensors with its .json) in as ``name`` (default: its stem,
        with -2, -3, ... when taken). An explicit name already used by other weights is an
        error; the same weights under the same name return the existing entry."""
        source = Path(checkpoint)
        config = source.with_suffix(".json")
        if not source.is_file() or _role(config) is None:
            raise LibraryError(source, "not a checkpoint: needs NAME.safetensors and a readable "
                                       "NAME.json with its architecture")
        if name is not None and not _NAME.match(name):
            raise LibraryError(self.root, f"model name {name!r} must be letters, digits, '.', '_' "
                                          "or '-', starting with a letter or digit")
        self.root.mkdir(parents=True, exist_ok=True)
        digest = _sha256(source)
        for candidate in _candidates(name or _safe_stem(source.stem), explicit=name is not None):
            target = self.root / f"{candidate}.safetensors"
            if target.exists():
                if _sha256(target) == digest:      # the same model: finish an add cut short
                    if _role(target.with_suffix(".json")) is None:
                        _copy_atomic(config, target.with_suffix(".json"))
                    return self.entry(candidate)
                if name is not None:
                    raise LibraryError(target, "a different model already has this name; choose "
                                               "another name (library entries are never overwritten)")
                continue
            if _copy_without_overwrite(source, target):
                _copy_atomic(config, target.with_suffix(".json"))
                return self.entry(candidate)
        raise LibraryError(self.root, f"no free name for {source.name}")

    def history(self) -> list[dict]:
        """The adoption records in order; lines that do not parse are skipped."""
        if not self.history_path.is_file():
            return []
        records = []
        for line in self.history_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and {"action", "role"} <= set(record):
                records.append(record)
        return records

    def active(self, role: str = "hinet") -> LibraryEntry | None:
        """The adopted model of ``role``, or None (then the package default is used)."""
        stack = self._stacks().get(role, [])
        present = {e.name: e for e in self.entries()}
        for name in reversed(stack):            # an entry deleted by hand falls back further
            if name in present:
                return present[name]
        return None

    def adopted(self) -> dict[str, LibraryEntry]:
        """The active entry of every role that has one."""
        stacks = self._stacks()
        return {role: entry for role in stacks if (entry := self.active(role)) is not None}

    def adopt(self, name: str) -> LibraryEntry:
        """Make entry ``name`` the active model of its role."""
        entry = self.entry(name)
        if self.active(entry.role) != entry:
            self._append({"action": "adopt", "role": entry.role, "name": name})
        return entry

    def rollback(self, role: str = "hinet") -> LibraryEntry | None:
        """Return ``role`` to the model adopted before the active one (None: the package
        default); LibraryError when nothing of that role was adopted."""
        if not self._stacks().get(role):
            raise LibraryError(self.history_path, f"no adopted {role} model to roll back")
        self._append({"action": "rollback", "role": role})
        return self.active(role)

    def _stacks(self) -> dict[str, list[str]]:
        stacks: dict[str, list[str]] = {}
        for record in self.history():
            stack = stacks.setdefault(record["role"], [])
            if record["action"] == "adopt" and record.get("name"):
                stack.append(record["name"])
            elif record["action"] == "rollback" and stack:
                stack.pop()
        return stacks

    def _append(self, record: dict) -> None:
        from filelock import FileLock

        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / ".lock"), timeout=30):
            records = [*self.history(), {**record, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}]
            tmp = self.history_path.with_name(HISTORY + ".tmp")
            with open(tmp, "w") as handle:
                handle.write("".join(json.dumps(r) + "\n" for r in records))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.history_path)
            _fsync_dir(self.root)


def _role(config_path: Path) -> str | None:
    try:
        architecture = json.loads(config_path.read_text()).get("architecture")
    except (OSError, ValueError, AttributeError):
        return None
    return architecture if isinstance(architecture, str) else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _safe_stem(stem: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", stem).lstrip("._-")
    return cleaned or "model"


def _candidates(base: str, explicit: bool):
    yield base
    if not explicit:
        for index in range(2, 1000):
            yield f"{base}-{index}"


def _copy_without_overwrite(source: Path, target: Path) -> bool:
    """Copy to a temporary name, fsync, and link it to ``target`` only if that is free."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    _fsync(tmp)
    try:
        os.link(tmp, target)            # atomic, and fails instead of replacing
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return True


def _copy_atomic(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    _fsync(tmp)
    os.replace(tmp, target)
    _fsync_dir(target.parent)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
