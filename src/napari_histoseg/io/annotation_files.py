"""``histoseg export`` (mask -> QuPath GeoJSON) and ``histoseg import`` (GeoJSON / ASAP XML ->
label pyramid TIFF), and the functions behind them.

Both write atomically (temporary file, fsync, rename): a failed or refused import
leaves no file, and every annotation is checked before a pixel is written.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Mapping

import numpy as np

from napari_histoseg.io.annotations import (DEFAULT_CLASSES, Annotation, AnnotationError,
                                            Sampling, check_annotations, mask_to_geojson,
                                            read_geojson)
from napari_histoseg.io.atomic import atomic_write_bytes


def read_annotations(path: str | Path, class_property: str | None = None) -> list[Annotation]:
    """Polygons of a GeoJSON (.geojson, .json) or ASAP XML (.xml) file, unchecked."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, "annotation file not found; check the path")
    if path.suffix.lower() == ".xml":
        from napari_histoseg.io.asap_xml import read_asap_xml

        return read_asap_xml(path)
    if path.suffix.lower() in (".geojson", ".json"):
        return read_geojson(path, class_property)
    raise AnnotationError(path, "unknown annotation format; expected .geojson, .json or .xml")


def export_geojson(store, path: str | Path, level: int = 0, simplify: float = 0.0) -> int:
    """Write the mask of a :class:`ResultStore` at ``level`` as QuPath GeoJSON; returns the
    number of features. The whole level is read into memory: choose an overview level
    for very large masks."""
    levels = store.mask_levels()
    if not 0 <= level < len(levels):
        raise ValueError(f"{store.path}: mask level {level} does not exist "
                         f"(levels 0-{len(levels) - 1})")
    sampling = Sampling(store.spec.grid.downsample, 2**level)
    collection = mask_to_geojson(np.asarray(levels[level][...]), sampling,
                                 store.spec.class_names, store.spec.class_colors, simplify)
    atomic_write_bytes(path, json.dumps(collection).encode("utf-8"))
    return len(collection["features"])


def annotation_mask(path: str | Path, slide_shape: tuple[int, int], downsample: float,
                    classes: Mapping[str, int] = DEFAULT_CLASSES,
                    location: tuple[int, int] = (0, 0), size: tuple[int, int] | None = None,
                    repair: bool = False) -> np.ndarray:
    """The (h, w) uint8 labels of an annotation file over mask pixels ``location`` (y, x) ..
    ``location + size`` at ``downsample`` level-0 px per px (default: the whole slide).

    Raises AnnotationError, as :func:`import_annotations`, before anything is rasterised.
    """
    from napari_histoseg.io.rasterise import rasterise

    shapes = check_annotations(path, read_annotations(path), classes, slide_shape, repair)
    if size is None:
        size = (math.ceil(slide_shape[0] / downsample), math.ceil(slide_shape[1] / downsample))
    return rasterise(shapes, Sampling(downsample), location, size)


def import_annotations(path: str | Path, out: str | Path, slide_shape: tuple[int, int],
                       downsample: float = 1.0, classes: Mapping[str, int] = DEFAULT_CLASSES,
                       slide_mpp: tuple[float, float] | None = None, repair: bool = False,
                       class_property: str | None = None) -> dict[int, float]:
    """Rasterise an annotation file into a label pyramid TIFF at ``out``.

    Args:
        slide_shape: level-0 (h, w) of the slide the annotations belong to.
        downsample: level-0 px per mask px; the mask is ``ceil(shape / downsample)``.
        classes: class name -> label 0..255 (case-insensitive); label 0 cuts holes.
    Returns:
        label -> annotated area in level-0 px² (overlaps counted twice).
    Raises:
        AnnotationError: listing every bad annotation; nothing is written then.
    """
    if downsample <= 0 or not math.isfinite(downsample):
        raise ValueError(f"downsample must be a positive number, got {downsample}")
    if not all(0 <= int(v) <= 255 for v in classes.values()):
        raise ValueError(f"class labels must lie in 0..255, got {dict(classes)}")
    from napari_histoseg.io.rasterise import write_label_pyramid

    shapes = check_annotations(path, read_annotations(path, class_property), classes,
                               slide_shape, repair)
    mask_shape = (math.ceil(slide_shape[0] / downsample), math.ceil(slide_shape[1] / downsample))
    write_label_pyramid(out, shapes, mask_shape, downsample, slide_mpp,
                        metadata={"source": str(path), "downsample": downsample,
                                  "classes": {k: int(v) for k, v in classes.items()}})
    areas: dict[int, float] = {}
    for geometry, label in shapes:
        areas[label] = areas.get(label, 0.0) + geometry.area
    return areas


def add_export_command(subparsers) -> None:
    """Register ``export`` on an argparse subparsers object."""
    parser = subparsers.add_parser(
        "export", help="write a slide's tumour mask as GeoJSON polygons that QuPath opens")
    parser.add_argument("slide", type=Path, help="the slide, or its workspace folder")
    parser.add_argument("--out", type=Path, required=True, help="the .geojson file to write")
    parser.add_argument("--workspace", type=Path, default=None,
                        help="workspace folder (default: <slide>.histoseg beside the slide)")
    parser.add_argument("--level", type=int, default=0,
                        help="mask pyramid level (0 = analysis resolution; higher = coarser)")
    parser.add_argument("--simplify", type=float, default=0.0,
                        help="simplify outlines by this many level-0 px (default: exact)")
    parser.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from napari_histoseg.io.workspace import Workspace, WorkspaceError

    workspace = Workspace.open(args.slide, args.workspace)
    store = workspace.results()
    if store is None:
        raise WorkspaceError(workspace.root, "has no segmentation results; run "
                                             "`histoseg segment` first")
    count = export_geojson(store, args.out, args.level, args.simplify)
    print(f"{count} annotation(s) written to {args.out}")
    return 0


def add_import_command(subparsers) -> None:
    """Register ``import`` on an argparse subparsers object."""
    parser = subparsers.add_parser(
        "import", help="rasterise GeoJSON or ASAP/CAMELYON XML annotations into a label mask")
    parser.add_argument("annotation", type=Path, help=".geojson/.json (QuPath) or .xml (ASAP)")
    parser.add_argument("--slide", type=Path, required=True,
                        help="the slide the annotations belong to (for its size and µm/px)")
    parser.add_argument("--out", type=Path, required=True, help="label pyramid TIFF to write")
    parser.add_argument("--downsample", type=float, default=1.0,
                        help="level-0 px per mask px (default 1: the slide's full resolution)")
    parser.add_argument("--class", dest="classes", action="append", default=[],
                        metavar="NAME=ID", help="map a class name to a label (repeatable); "
                        "added to the defaults tumour/tumor/metastases/_0/_1=1, "
                        "background/normal/exclusion/_2=0")
    parser.add_argument("--class-property", default=None,
                        help="GeoJSON property holding the class (default: classification, "
                             "class, class_name or label)")
    parser.add_argument("--repair", action="store_true",
                        help="mend self-intersecting polygons instead of refusing the file")
    parser.set_defaults(func=_import)


def _import(args: argparse.Namespace) -> int:
    from napari_histoseg.io.slide import open_slide

    classes = dict(DEFAULT_CLASSES)
    for item in args.classes:
        name, _, value = item.rpartition("=")
        if not name or not value.strip().isdigit():
            raise ValueError(f"--class expects NAME=ID with ID in 0..255, got {item!r}")
        classes[name.strip().lower()] = int(value)
    slide = open_slide(args.slide)
    areas = import_annotations(args.annotation, args.out, slide.level_shapes[0],
                               args.downsample, classes, slide.mpp, args.repair,
                               args.class_property)
    for label, area in sorted(areas.items()):
        print(f"label {label}: {area:,.0f} level-0 px² annotated")
    print(f"mask written to {args.out}")
    return 0
