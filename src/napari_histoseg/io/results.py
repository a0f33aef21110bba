"""The result store of one segmentation: an OME-Zarr (NGFF 0.5) image written with zarr 3.

Layout of ``results.zarr/`` (the metadata is written directly with zarr; any
NGFF 0.5 reader, e.g. napari-ome-zarr, QuPath or vizarr, opens the pyramids)::

    zarr.json            attributes: "ome" (multiscales of the probabilities),
                         "histoseg" (ResultSpec and format version)
    0 .. n-1             (C, h, w) uint8 class probabilities x 254 (rounded),
                         255 = not computed (io.blend.dequantise decodes them)
    labels/mask/0 .. n-1 (h, w) uint8 class id per pixel, 255 = not computed;
                         an NGFF label image with the class colours and names
    histoseg/tiles       (rows, cols, C, tile_size, tile_size) uint8: each finished
                         tile's softmax x 255 over its whole window, one chunk per tile
    histoseg/done        (rows, cols) uint8, one chunk: 1 = the tile counts

Level 0 is the analysis grid; its chunks are the tiles' cores (``stride``²),
so every level-0 chunk is written whole. Level k+1 is the 2 x 2 mean of level
k's stored probabilities (missing children ignored, integer rounding) and its
mask their argmax. Class ids
of computed pixels are the model's; ``NOT_COMPUTED`` (255) marks pixels no
finished tile reaches, so counting class ids never counts them.

A store is created beside its final name and renamed into place, and zarr 3
writes each chunk to a temporary file and renames it, so after a crash every
file is whole or absent. How the arrays are kept exact is in
:mod:`napari_histoseg.io.result_update`.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from napari_histoseg.geometry import TileGrid
from napari_histoseg.io.blend import NOT_COMPUTED
from napari_histoseg.io.errors import FileError

#: Fast compression: results are written as fast as the model produces them.
COMPRESSORS = (BloscCodec(cname="lz4", clevel=1, shuffle="shuffle"),)
#: Lower pyramid levels stop once the longer side fits this many pixels.
MIN_PYRAMID_SIDE = 256
#: Bumped when the layout changes; older stores are reported as needing a restart.
FORMAT = 3
NGFF_VERSION = "0.5"


class WorkspaceError(FileError):
    """A workspace folder or result store that cannot be used; the message names it."""


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
    """Blended probabilities and the label mask of one segmentation, on disk.

    ``mask_levels()`` are (h, w) uint8 arrays, level 0 first, whose values are
    class ids where computed and ``NOT_COMPUTED`` (255) elsewhere;
    ``probability_levels()`` are (C, h, w) uint8 arrays, probability x 254, and
    ``NOT_COMPUTED`` where not computed (``io.blend.dequantise`` gives floats).
    """

    NOT_COMPUTED = NOT_COMPUTED

    def __init__(self, group: zarr.Group, spec: ResultSpec):
        self._group = group
        self.spec = spec
        n = int(group.attrs["histoseg"]["n_levels"])
        self._probabilities = tuple(_whole_chunks(group[str(i)]) for i in range(n))
        self._masks = tuple(_whole_chunks(group[f"labels/mask/{i}"]) for i in range(n))
        self.tiles = _whole_chunks(group["histoseg/tiles"])
        self.done = group["histoseg/done"]

    @property
    def path(self) -> Path:
        return Path(str(self._group.store.root))

    @property
    def n_levels(self) -> int:
        return len(self._masks)

    @classmethod
    def create(cls, path: Path, spec: ResultSpec) -> ResultStore:
        """Create an empty store at ``path``, replacing anything there, atomically.

        The store is built in a temporary folder beside ``path`` and renamed into
        place; an old store is moved aside first and deleted last. A crash leaves
        either the old store, no store, or the new one, never half of one.
        """
        path = Path(path)
        building = path.with_name(f"{path.name}.building-{os.getpid()}")
        shutil.rmtree(building, ignore_errors=True)
        _build(zarr.open_group(building, mode="w"), spec)
        retired = path.with_name(f"{path.name}.retired-{os.getpid()}")
        if path.exists():
            os.replace(path, retired)
        os.replace(building, path)
        shutil.rmtree(retired, ignore_errors=True)
        return cls.open(path)

    @classmethod
    def open(cls, path: Path) -> ResultStore:
        """Open an existing store; WorkspaceError naming it when it is absent or damaged."""
        path = Path(path)
        if not (path / "zarr.json").is_file():
            raise WorkspaceError(path, "no segmentation results here (zarr.json missing)")
        try:
            group = zarr.open_group(path, mode="r+")
            meta = group.attrs["histoseg"]
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}, this version reads {FORMAT}")
            store = cls(group, ResultSpec.from_json(meta["spec"]))
            if store.done.shape != store.spec.grid.grid_shape:
                raise ValueError("its tile record does not match its grid")
        except WorkspaceError:
            raise
        except Exception as err:  # noqa: BLE001 - any damage becomes one clear message
            raise WorkspaceError(path, f"the results are damaged or from another version "
                                       f"({type(err).__name__}: {err}); recompute them with "
                                       "'Start over' in the Segment dock or "
                                       "`histoseg segment --restart`") from err
        return store

    def mask_levels(self) -> tuple[zarr.Array, ...]:
        """The label mask pyramid, (h, w) uint8 each, largest first; 255 = not computed."""
        return self._masks

    def probability_levels(self) -> tuple[zarr.Array, ...]:
        """The probability pyramid, (C, h, w) uint8 x 254 each, largest first; 255 = not computed."""
        return self._probabilities

    @property
    def scale(self) -> tuple[float, float]:
        """µm/px (y, x) of level 0, for napari's ``scale``."""
        return self.spec.mpp

    @property
    def translate(self) -> tuple[float, float]:
        """µm offset (y, x) that centres level-0 result pixels on the slide's pixels."""
        return _centre_offset(self.spec, 1)

    def done_tiles(self) -> np.ndarray:
        """(rows, cols) bool: which tiles are finished."""
        return self.done[...].astype(bool)


def _whole_chunks(array: zarr.Array) -> zarr.Array:
    """``array`` writing every chunk it is given, even one equal to the fill value.

    The store only writes computed chunks, so zarr's check for empty ones (a
    full comparison with the NaN fill) would cost a third of each write for nothing.
    """
    return array.with_config({"write_empty_chunks": True})


def _centre_offset(spec: ResultSpec, factor: int) -> tuple[float, float]:
    """µm offset of the centre of a level pixel that spans ``factor`` level-0 result px."""
    d = spec.grid.downsample * factor
    return ((d - 1) / 2 * spec.slide_mpp[0], (d - 1) / 2 * spec.slide_mpp[1])


def _build(group: zarr.Group, spec: ResultSpec) -> None:
    """Create the arrays and the NGFF metadata of an empty store in ``group``."""
    shapes = pyramid_shapes(spec.grid.shape)
    n_classes, s, t = len(spec.class_names), spec.grid.stride, spec.grid.tile_size
    for level, shape in enumerate(shapes):
        chunk = (min(s, shape[0]), min(s, shape[1]))
        group.create_array(str(level), shape=(n_classes, *shape), chunks=(n_classes, *chunk),
                           dtype="uint8", fill_value=NOT_COMPUTED, compressors=COMPRESSORS,
                           dimension_names=("c", "y", "x"))
        group.create_array(f"labels/mask/{level}", shape=shape, chunks=chunk, dtype="uint8",
                           fill_value=NOT_COMPUTED, compressors=COMPRESSORS,
                           dimension_names=("y", "x"))
    rows, cols = spec.grid.grid_shape
    group.create_array("histoseg/tiles", shape=(rows, cols, n_classes, t, t),
                       chunks=(1, 1, n_classes, t, t), dtype="uint8", fill_value=0,
                       compressors=COMPRESSORS)
    group.create_array("histoseg/done", shape=(rows, cols), chunks=(rows, cols), dtype="uint8",
                       fill_value=0)
    group.attrs.update({"ome": _multiscales(spec, len(shapes), "probabilities", channels=True),
                        "histoseg": {"format": FORMAT, "spec": spec.to_json(),
                                     "n_levels": len(shapes)}})
    group["labels"].attrs.update({"ome": {"version": NGFF_VERSION, "labels": ["mask"]}})
    mask = _multiscales(spec, len(shapes), "mask", channels=False)
    mask["image-label"] = _image_label(spec)
    group["labels/mask"].attrs.update({"ome": mask})


def _multiscales(spec: ResultSpec, n_levels: int, name: str, channels: bool) -> dict:
    """NGFF 0.5 ``ome`` attributes of a pyramid in µm, level k = 2**k level-0 px."""
    axes = [{"name": "y", "type": "space", "unit": "micrometer"},
            {"name": "x", "type": "space", "unit": "micrometer"}]
    lead = [1.0] if channels else []
    datasets = []
    for level in range(n_levels):
        f = 2**level
        scale = [spec.mpp[0] * f, spec.mpp[1] * f]
        datasets.append({"path": str(level), "coordinateTransformations": [
            {"type": "scale", "scale": lead + scale},
            {"type": "translation", "translation": [0.0] * len(lead)
             + list(_centre_offset(spec, f))}]})
    if channels:
        axes.insert(0, {"name": "c", "type": "channel"})
    return {"version": NGFF_VERSION, "multiscales": [
        {"name": name, "axes": axes, "datasets": datasets,
         "type": "mean", "metadata": {"method": "2x2 mean of probabilities, mask = argmax"}}]}


def _image_label(spec: ResultSpec) -> dict:
    """NGFF ``image-label``: class colours (background and not-computed transparent)."""
    colors = [{"label-value": NOT_COMPUTED, "rgba": [0, 0, 0, 0]}]
    properties = [{"label-value": NOT_COMPUTED, "class": "not computed"}]
    for index, (name, colour) in enumerate(zip(spec.class_names, spec.class_colors)):
        rgb = [int(colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)]
        colors.append({"label-value": index, "rgba": rgb + [0 if index == 0 else 255]})
        properties.append({"label-value": index, "class": name})
    return {"colors": sorted(colors, key=lambda c: c["label-value"]),
            "properties": sorted(properties, key=lambda p: p["label-value"]),
            "source": {"image": "../../"}}
