"""The correction store: every committed mask edit, append-only, each record whole or absent.

Layout of ``<workspace>/corrections/``::

    records/<id>.npz     one committed edit (see below); ids sort in commit order
    deleted/<id>.npz     records the user deleted (kept for audit, never used for training)
    manifest.json        a summary of every record (no pixels); rebuilt from records/ when stale
    recovery.npz         the edit in progress, autosaved; absent when nothing is pending

A record is a numpy ``.npz`` archive (zip with a CRC per member; masks deflated, the
H&E stored) of three arrays and a JSON string, read with ``allow_pickle=False``:

    image    (h, w, 3) uint8  the H&E under the edit, at the mask's resolution
    after    (h, w) uint8     the corrected mask
    before   (h, w) uint8     the model's mask before the edit (to undo a deletion)
    meta     0-d str          JSON: location and size (level-0 px, (y, x) and (h, w)), mpp
                              (µm/px of the mask pixels), slide path and sha256, model sha256,
                              author, time, changed pixels and area changed in µm²

Every file is written to a temporary file in its folder, fsynced, renamed into place
and the folder fsynced (:mod:`.atomic`), so a crash leaves a record whole or absent.
The manifest is only a cache: when its ids differ from the files in ``records/`` it is
rebuilt from the records' ``meta``.
"""

from __future__ import annotations

import datetime
import getpass
import io
import json
import re
import secrets
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from napari_histoseg.io.atomic import (atomic_replace, atomic_write_bytes, fsync_dir,
                                       remove_leftovers)
from napari_histoseg.io.errors import FileError

FORMAT, VERSION = "histoseg-correction", 1
ARRAYS = ("image", "after", "before")
#: A record id: UTC time to the microsecond, then random hex (so ids sort in commit order).
RECORD_ID = re.compile(r"\d{8}T\d{12}Z-[0-9a-f]{6}")


class CorrectionError(FileError):
    """A correction record or store that cannot be used; the message names the file."""


def default_author() -> str:
    """The logged-in user's name, or "unknown" where the system has none."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True, eq=False)
class Correction:
    """One edit of the mask over a level-0 box of the slide.

    Attributes:
        image: (h, w, 3) uint8 H&E at the mask's resolution.
        after: (h, w) uint8 corrected labels; ``before``: the model's labels it replaced.
        location: level-0 (y, x) of the box's top-left corner; ``size``: its level-0 (h, w).
        mpp: µm/px (y, x) of the mask pixels.
        slide: the slide's path; ``slide_sha256``, ``model_sha256``: "" when unknown.
        class_names: the classes the labels index (the mask's); () when unknown (older
            records kept none).
        record_id: set by :meth:`CorrectionStore.commit`.
    """

    image: np.ndarray
    after: np.ndarray
    before: np.ndarray
    location: tuple[int, int]
    size: tuple[int, int]
    mpp: tuple[float, float]
    slide: str
    slide_sha256: str = ""
    model_sha256: str = ""
    class_names: tuple[str, ...] = ()
    author: str = field(default_factory=default_author)
    time: str = field(default_factory=_now)
    record_id: str = ""

    def __post_init__(self):
        shape = self.after.shape
        if (self.after.ndim != 2 or self.before.shape != shape
                or self.image.shape != (*shape, 3)):
            raise ValueError(f"a correction needs image (h, w, 3), after and before (h, w) of "
                             f"one size; got {self.image.shape}, {shape}, {self.before.shape}")
        if not all(a.dtype == np.uint8 for a in (self.image, self.after, self.before)):
            raise ValueError("a correction's image and masks must be uint8")
        if min(self.size) <= 0 or min(self.mpp) <= 0:
            raise ValueError(f"size {self.size} and mpp {self.mpp} must be positive")

    @property
    def changed(self) -> np.ndarray:
        """(h, w) bool: pixels whose label the edit changed."""
        return self.after != self.before

    @property
    def area_changed_um2(self) -> float:
        """Area whose label changed, µm²."""
        return float(self.changed.sum()) * self.mpp[0] * self.mpp[1]

    @property
    def downsample(self) -> tuple[float, float]:
        """Level-0 px per mask px (y, x)."""
        return (self.size[0] / self.after.shape[0], self.size[1] / self.after.shape[1])

    def meta(self) -> dict:
        """Everything but the pixels, as JSON-ready values."""
        return {"format": FORMAT, "version": VERSION, "record_id": self.record_id,
                "location": [int(v) for v in self.location],
                "size": [int(v) for v in self.size], "mpp": [float(v) for v in self.mpp],
                "shape": [int(v) for v in self.after.shape],
                "slide": self.slide, "slide_sha256": self.slide_sha256,
                "model_sha256": self.model_sha256, "class_names": list(self.class_names),
                "author": self.author, "time": self.time,
                "changed_pixels": int(self.changed.sum()),
                "area_changed_um2": self.area_changed_um2}


def he_region(slide, location: tuple[int, int], size: tuple[int, int],
              shape: tuple[int, int]) -> np.ndarray:
    """The (h, w, 3) uint8 H&E of a :class:`~napari_histoseg.io.slide.Slide` over the level-0
    box ``location`` (y, x), ``size`` (h, w), at a mask's resolution ``shape`` (h, w).

    Reads the coarsest level that is at least as fine as the mask, then resamples
    (area-averaging, scikit-image) only when that level's pixels differ from the mask's.
    """
    level = slide.best_level_for_downsample(min(size[0] / shape[0], size[1] / shape[1]))
    factor = slide.downsamples[level]
    region = slide.read_region(level, (round(location[0] / factor), round(location[1] / factor)),
                               (round(size[0] / factor), round(size[1] / factor)))
    if region.shape[:2] == tuple(shape):
        return region
    from skimage.transform import resize

    smooth = resize(region.astype(np.float32), shape, anti_aliasing=True, preserve_range=True)
    return np.clip(smooth.round(), 0, 255).astype(np.uint8)


def to_npz_bytes(correction: Correction) -> bytes:
    """A correction as the bytes of an ``.npz`` archive that ``np.load`` reads.

    The masks are deflated (level 1: they shrink a hundredfold at once); the H&E is
    stored as it is, because deflate saves only about a third of it and costs ~2 s
    for a 4,096² window, where the whole commit should take under 1 s.
    """
    buffer = io.BytesIO()
    members = {"image": correction.image, "after": correction.after,
               "before": correction.before, "meta": np.array(json.dumps(correction.meta()))}
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1,
                         allowZip64=True) as archive:
        for name, array in members.items():
            entry: zipfile.ZipInfo | str = f"{name}.npy"
            if name == "image":
                entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                entry.compress_type = zipfile.ZIP_STORED
            with archive.open(entry, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def read_meta(path: str | Path) -> dict:
    """A record's meta (no pixels). Raises CorrectionError naming a missing or damaged file."""
    return _read(path, pixels=False)[0]


def read_correction(path: str | Path) -> Correction:
    """The correction in an ``.npz`` record. Raises CorrectionError as :func:`read_meta`."""
    meta, arrays = _read(path, pixels=True)
    return Correction(**arrays, location=tuple(meta["location"]), size=tuple(meta["size"]),
                      mpp=tuple(meta["mpp"]), slide=meta["slide"],
                      slide_sha256=meta["slide_sha256"], model_sha256=meta["model_sha256"],
                      class_names=tuple(meta.get("class_names", ())), author=meta["author"],
                      time=meta["time"], record_id=meta["record_id"])


def _read(path: str | Path, pixels: bool) -> tuple[dict, dict[str, np.ndarray]]:
    path = Path(path)
    if not path.is_file():
        raise CorrectionError(path, "no such correction record")
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            if meta.get("format") != FORMAT or meta.get("version") != VERSION:
                raise ValueError(f"format {meta.get('format')!r} v{meta.get('version')}")
            arrays = {name: archive[name] for name in ARRAYS} if pixels else {}
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise CorrectionError(path, f"not a readable correction record ({err}); move it "
                                    "out of the corrections folder") from err
    return meta, arrays


class CorrectionStore:
    """The corrections of one slide, in ``root`` (``<workspace>/corrections``)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.records_dir, self.deleted_dir = self.root / "records", self.root / "deleted"
        try:
            self.records_dir.mkdir(parents=True, exist_ok=True)
            self.deleted_dir.mkdir(exist_ok=True)
        except OSError as err:
            raise CorrectionError(self.root, f"cannot create the corrections folder ({err})")
        remove_leftovers(self.records_dir)
        remove_leftovers(self.root)

    @classmethod
    def for_workspace(cls, workspace) -> CorrectionStore:
        """The store in a :class:`~napari_histoseg.io.workspace.Workspace`'s folder."""
        return cls(Path(workspace.root) / "corrections")

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def recovery_path(self) -> Path:
        return self.root / "recovery.npz"

    def record_path(self, record_id: str) -> Path:
        if not RECORD_ID.fullmatch(record_id):
            raise CorrectionError(self.records_dir, f"{record_id!r} is not a record id")
        return self.records_dir / f"{record_id}.npz"

    def commit(self, correction: Correction) -> str:
        """Append ``correction`` as a new record; returns its id once it is on disk."""
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        record_id = f"{stamp}-{secrets.token_hex(3)}"
        record = replace(correction, record_id=record_id)
        atomic_write_bytes(self.record_path(record_id), to_npz_bytes(record))
        try:
            self._write_manifest([*self._cached_entries(), record.meta()])
        except OSError:  # the record is saved; the manifest is a cache, rebuilt on next read
            pass
        return record_id

    def ids(self) -> list[str]:
        """Ids of the records on disk, oldest first."""
        return sorted(p.stem for p in self.records_dir.glob("*.npz")
                      if RECORD_ID.fullmatch(p.stem))

    def load(self, record_id: str) -> Correction:
        """A record with its pixels."""
        return read_correction(self.record_path(record_id))

    def entries(self) -> list[dict]:
        """Each record's meta (no pixels), oldest first; from the manifest when it is current."""
        cached = self._cached_entries()
        if [entry["record_id"] for entry in cached] == self.ids():
            return cached
        return self.rebuild_manifest()

    def rebuild_manifest(self) -> list[dict]:
        """Read every record's meta and write the manifest again; returns the entries.

        Raises:
            CorrectionError: a record in ``records/`` cannot be read (it names the file).
        """
        entries = [read_meta(self.record_path(i)) for i in self.ids()]
        self._write_manifest(entries)
        return entries

    def delete(self, record_id: str) -> Correction:
        """Move a record to ``deleted/`` and return it, so the caller can put its ``before``
        labels back into the mask (pixels a later record also covers are that record's)."""
        correction = self.load(record_id)
        atomic_replace(self.record_path(record_id), self.deleted_dir / f"{record_id}.npz")
        self.rebuild_manifest()
        return correction

    def total_area_changed_um2(self) -> float:
        return float(sum(entry["area_changed_um2"] for entry in self.entries()))

    def save_recovery(self, draft: Correction) -> None:
        """Autosave an edit that is not committed yet (replacing the previous one)."""
        atomic_write_bytes(self.recovery_path, to_npz_bytes(draft))

    def load_recovery(self) -> Correction | None:
        """The autosaved edit, or None when there is none."""
        if not self.recovery_path.is_file():
            return None
        return read_correction(self.recovery_path)

    def clear_recovery(self) -> None:
        """Forget the autosaved edit (after it was committed or discarded)."""
        self.recovery_path.unlink(missing_ok=True)
        fsync_dir(self.root)

    def _cached_entries(self) -> list[dict]:
        try:
            entries = json.loads(self.manifest_path.read_text(encoding="utf-8"))["records"]
            return [e for e in entries if isinstance(e.get("record_id"), str)]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return []

    def _write_manifest(self, entries: list[dict]) -> None:
        entries = sorted({e["record_id"]: e for e in entries}.values(),
                         key=lambda e: e["record_id"])
        data = {"format": f"{FORMAT}-manifest", "version": VERSION, "records": entries}
        atomic_write_bytes(self.manifest_path, json.dumps(data, indent=1).encode("utf-8"))
