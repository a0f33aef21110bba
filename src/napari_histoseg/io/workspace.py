"""A slide's workspace folder: segmentation results and the run log.

Layout of ``<slide>.histoseg/`` (or a folder the user chooses)::

    workspace.json            which slide this folder belongs to
    results.zarr/             zarr 3 group; attrs["spec"] = ResultSpec
        probabilities/0..n    (n_classes, h, w) float32, blended class probabilities
        mask/0..n             (h, w) uint8 label mask (argmax), 0 where not computed
        weight                (h, w) float32 sum of blending weights so far
        done                  (rows, cols) uint8, 1 = tile finished
    runs.jsonl                one JSON record per run event (model, hash, params, timings)

Level 0 of the results is the analysis grid (``spec.grid.downsample`` level-0
slide px per px); each further level takes every 2nd pixel of level 0's rows and
columns of the one above, so labels stay labels. Chunks are ``stride x stride``,
aligned with the tile cores. Lower levels are updated as tiles finish, so a
multiscale napari Labels layer over :meth:`ResultStore.mask_levels` fills in live.

Writes are ordered pixels first, then ``done``: a crash never marks a tile whose
pixels are missing. (A tile whose pixels were written but not yet marked is
recomputed on resume; its contribution then counts twice in its overlap bands,
which re-weights identical predictions and leaves a valid blend.)
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from napari_histoseg.inference.tiling import BlendedRegion, TileGrid
from napari_histoseg.io.errors import FileError

#: Fast compression: results are written as fast as the model produces them.
COMPRESSORS = (BloscCodec(cname="lz4", clevel=1, shuffle="shuffle"),)
#: Lower pyramid levels stop once the longer side fits this many pixels.
MIN_PYRAMID_SIDE = 256
WORKSPACE_SUFFIX = ".histoseg"


class WorkspaceError(FileError):
    """A workspace folder that cannot be used; the message names the folder."""


@dataclass(frozen=True)
class ResultSpec:
    """What a result store holds; two runs may share a store only if their specs match.

    Attributes:
        grid: the tile grid (analysis resolution, tile_size, halo).
        slide_mpp: level-0 µm/px (y, x) of the slide.
        class_names: one per probability channel; class 0 is background.
        class_colors: "#rrggbb" per class.
        model: model name or checkpoint file name.
        model_sha256: hash of the weights, or "" for untrained weights.
    """

    grid: TileGrid
    slide_mpp: tuple[float, float]
    class_names: tuple[str, ...]
    class_colors: tuple[str, ...]
    model: str
    model_sha256: str = ""

    @property
    def mpp(self) -> tuple[float, float]:
        """µm/px (y, x) of results level 0."""
        d = self.grid.downsample
        return (self.slide_mpp[0] * d, self.slide_mpp[1] * d)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ResultSpec:
        grid = data["grid"]
        return cls(grid=TileGrid(shape=tuple(grid["shape"]), downsample=float(grid["downsample"]),
                                 tile_size=int(grid["tile_size"]), halo=int(grid["halo"])),
                   slide_mpp=tuple(data["slide_mpp"]), class_names=tuple(data["class_names"]),
                   class_colors=tuple(data["class_colors"]), model=data["model"],
                   model_sha256=data["model_sha256"])


def pyramid_shapes(shape: tuple[int, int]) -> list[tuple[int, int]]:
    """Level shapes: ``shape``, then halved (rounding up) until the longer side fits."""
    shapes = [tuple(shape)]
    while max(shapes[-1]) > MIN_PYRAMID_SIDE:
        h, w = shapes[-1]
        shapes.append((-(-h // 2), -(-w // 2)))
    return shapes


class ResultStore:
    """Blended probabilities and the label mask of one segmentation, on disk."""

    def __init__(self, group: zarr.Group, spec: ResultSpec):
        self._group = group
        self.spec = spec
        self._probabilities = tuple(group[f"probabilities/{i}"] for i in range(self.n_levels))
        self._masks = tuple(group[f"mask/{i}"] for i in range(self.n_levels))
        self._weight = group["weight"]
        self._done = group["done"]

    @property
    def path(self) -> Path:
        return Path(str(self._group.store.root))

    @property
    def n_levels(self) -> int:
        return int(self._group.attrs["n_levels"])

    @classmethod
    def create(cls, path: Path, spec: ResultSpec) -> ResultStore:
        """Create an empty store at ``path`` (replacing anything there)."""
        group = zarr.open_group(path, mode="w")
        shapes = pyramid_shapes(spec.grid.shape)
        n_classes, s = len(spec.class_names), spec.grid.stride
        for level, shape in enumerate(shapes):
            chunk = (min(s, shape[0]), min(s, shape[1]))
            group.create_array(f"probabilities/{level}", shape=(n_classes, *shape),
                               chunks=(n_classes, *chunk), dtype="float32", fill_value=0.0,
                               compressors=COMPRESSORS)
            group.create_array(f"mask/{level}", shape=shape, chunks=chunk, dtype="uint8",
                               fill_value=0, compressors=COMPRESSORS)
        group.create_array("weight", shape=spec.grid.shape, chunks=(s, s), dtype="float32",
                           fill_value=0.0, compressors=COMPRESSORS)
        done_chunks = tuple(min(256, n) for n in spec.grid.grid_shape)
        group.create_array("done", shape=spec.grid.grid_shape, chunks=done_chunks,
                           dtype="uint8", fill_value=0)
        group.attrs.update({"spec": spec.to_json(), "n_levels": len(shapes)})
        return cls(group, spec)

    @classmethod
    def open(cls, path: Path) -> ResultStore:
        if not (Path(path) / "zarr.json").is_file():
            raise WorkspaceError(path, "no segmentation results here (zarr.json missing)")
        group = zarr.open_group(path, mode="r+")
        return cls(group, ResultSpec.from_json(group.attrs["spec"]))

    def mask_levels(self) -> tuple[zarr.Array, ...]:
        """The label mask pyramid, (h, w) uint8 each, largest first."""
        return self._masks

    def probability_levels(self) -> tuple[zarr.Array, ...]:
        """The probability pyramid, (n_classes, h, w) float32 each, largest first."""
        return self._probabilities

    @property
    def scale(self) -> tuple[float, float]:
        """µm/px (y, x) of level 0, for napari's ``scale``."""
        return self.spec.mpp

    @property
    def translate(self) -> tuple[float, float]:
        """µm offset (y, x) that centres level-0 result pixels on the slide's pixels."""
        d = self.spec.grid.downsample
        return ((d - 1) / 2 * self.spec.slide_mpp[0], (d - 1) / 2 * self.spec.slide_mpp[1])

    def done_tiles(self) -> np.ndarray:
        """(rows, cols) bool: which tiles are finished."""
        return self._done[...].astype(bool)

    def accumulate(self, region: BlendedRegion) -> None:
        """Blend ``region`` into the stored running mean and refresh the mask pyramid."""
        (y, x), (h, w) = region.location, region.weight.shape
        rows, cols = slice(y, y + h), slice(x, x + w)
        old_weight = self._weight[rows, cols]
        old = self._probabilities[0][:, rows, cols]
        weight = old_weight + region.weight
        safe = np.where(weight > 0, weight, 1.0)
        probabilities = ((old * old_weight + region.weighted) / safe).astype(np.float32)
        mask = np.where(weight > 0, probabilities.argmax(axis=0), 0).astype(np.uint8)
        self._probabilities[0][:, rows, cols] = probabilities
        self._weight[rows, cols] = weight
        self._masks[0][rows, cols] = mask
        self._write_lower_levels((y, x), probabilities, mask)

    def _write_lower_levels(self, location: tuple[int, int], probabilities: np.ndarray,
                            mask: np.ndarray) -> None:
        """Level k pixel (i, j) samples level 0 at (i * 2**k, j * 2**k)."""
        (y, x), (h, w) = location, mask.shape
        for level in range(1, self.n_levels):
            f = 2**level
            ky0, kx0 = -(-y // f), -(-x // f)
            ky1, kx1 = -(-(y + h) // f), -(-(x + w) // f)
            if ky1 <= ky0 or kx1 <= kx0:
                continue
            pick = (slice(ky0 * f - y, None, f), slice(kx0 * f - x, None, f))
            self._masks[level][ky0:ky1, kx0:kx1] = mask[pick]
            self._probabilities[level][:, ky0:ky1, kx0:kx1] = probabilities[(slice(None), *pick)]

    def mark_done(self, done: np.ndarray, indices: np.ndarray) -> None:
        """Persist tiles ``indices`` as finished; ``done`` is the caller's full (rows, cols)
        bool copy, already updated. Writes only the rows the tiles lie in."""
        rows = np.asarray(indices) // self.spec.grid.grid_shape[1]
        r0, r1 = int(rows.min()), int(rows.max()) + 1
        self._done[r0:r1, :] = done[r0:r1].astype(np.uint8)

    def reset(self) -> None:
        """Forget every result (the next run starts from scratch)."""
        for array in (*self._probabilities, *self._masks, self._weight, self._done):
            array[...] = 0


class RunLog:
    """Append-only JSON lines: one record per run event."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, record: dict) -> None:
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **record},
                          default=str)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")

    def records(self) -> list[dict]:
        if not self.path.is_file():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


class Workspace:
    """The folder of one slide's results. Build with :meth:`open`."""

    def __init__(self, root: Path, slide_path: Path | None):
        self.root = root
        self.slide_path = slide_path
        self.run_log = RunLog(root / "runs.jsonl")

    @staticmethod
    def default_dir(slide_path: str | Path) -> Path:
        """``<slide>.histoseg`` beside the slide file."""
        slide_path = Path(slide_path)
        return slide_path.with_name(slide_path.name + WORKSPACE_SUFFIX)

    @classmethod
    def open(cls, slide_or_dir: str | Path, out_dir: str | Path | None = None) -> Workspace:
        """Open (creating if needed) the workspace of a slide file, or a workspace folder.

        Args:
            slide_or_dir: a slide file (its workspace is ``out_dir`` or
                ``<slide>.histoseg``), or an existing workspace folder.
            out_dir: a folder to use instead of the default one.
        """
        path = Path(slide_or_dir)
        if path.is_dir() and out_dir is None:
            info = path / "workspace.json"
            slide = json.loads(info.read_text())["slide"] if info.is_file() else None
            return cls(path, Path(slide) if slide else None)
        if not path.is_file():
            raise WorkspaceError(path, "neither a slide file nor a workspace folder")
        root = Path(out_dir) if out_dir is not None else cls.default_dir(path)
        try:
            root.mkdir(parents=True, exist_ok=True)
            (root / "workspace.json").write_text(json.dumps({"slide": str(path.resolve())}))
        except OSError as err:
            raise WorkspaceError(root, f"cannot create the workspace folder ({err}); "
                                       "choose another with --out") from err
        return cls(root, path)

    @property
    def results_path(self) -> Path:
        return self.root / "results.zarr"

    def results(self) -> ResultStore | None:
        """The stored results, or None when this workspace has none yet."""
        if not (self.results_path / "zarr.json").is_file():
            return None
        return ResultStore.open(self.results_path)

    def results_for(self, spec: ResultSpec, restart: bool = False) -> ResultStore:
        """The store for a run with ``spec``: the existing one to resume, or a new one.

        Raises:
            WorkspaceError: results from a different model or grid are present and
                ``restart`` is False.
        """
        existing = self.results()
        if existing is not None and not restart:
            if existing.spec == spec:
                return existing
            raise WorkspaceError(self.results_path, (
                f"holds results of another run (model {existing.spec.model!r}, "
                f"tile_size {existing.spec.grid.tile_size}, halo {existing.spec.grid.halo}, "
                f"downsample {existing.spec.grid.downsample:g}); restart to replace them "
                "(--restart) or write elsewhere (--out DIR)"))
        return ResultStore.create(self.results_path, spec)
