"""Annotations as polygons: mask -> GeoJSON (QuPath's conventions), and checked polygons back.

Geometry uses scikit-image (connected components and marching-squares contours) and
shapely (polygons, validity, orientation); ASAP XML is read in :mod:`.asap_xml` with
defusedxml, polygons are rasterised in :mod:`.rasterise`.

Coordinates are level-0 slide pixels, x right and y down, with pixel ``k`` covering
``[k, k + 1)`` as QuPath and ASAP have it. A mask pixel ``(i, j)`` is centred at
level-0 ``((i * step + 0.5) * downsample, (j * step + 0.5) * downsample)`` (y, x), see
:class:`Sampling`. Exported rings pass half-way between pixel centres, so rasterising
them at the same sampling (pixel centres inside) gives the mask back exactly.

A feature is a QuPath annotation::

    {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [...]},
     "properties": {"objectType": "annotation",
                    "classification": {"name": "tumour", "color": [255, 0, 0]}}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.polygon import orient

from napari_histoseg.io.errors import FileError

#: Class names (lower case) -> label, used when the caller gives none: CAMELYON's groups
#: ``_0``/``_1``/``metastases`` are tumour, ``_2``/``exclusion`` cut holes into it.
DEFAULT_CLASSES = {"background": 0, "normal": 0, "non-tumour": 0, "non-tumor": 0,
                   "exclusion": 0, "_2": 0, "tumour": 1, "tumor": 1, "metastases": 1,
                   "metastasis": 1, "_0": 1, "_1": 1}
#: Feature properties read as the class name, in this order (QuPath's first).
CLASS_PROPERTIES = ("classification", "class", "class_name", "label")
#: Problems listed in one error message at most.
MAX_LISTED = 10


class AnnotationError(FileError):
    """An annotation file that cannot be imported; the message names the file and the features."""


@dataclass(frozen=True)
class Sampling:
    """Where mask pixels lie on the slide.

    Pixel ``(i, j)`` of the mask is centred at level-0 ``(y, x) = ((i * step + 0.5) *
    downsample, (j * step + 0.5) * downsample)``: ``downsample`` level-0 px per analysis
    pixel, and ``step`` analysis pixels between neighbouring mask pixels (an overview
    level ``k`` of a results pyramid samples every ``2**k``-th pixel of level 0).
    """

    downsample: float
    step: int = 1

    def centres(self, start: int, count: int) -> np.ndarray:
        """Level-0 coordinates of the centres of pixels ``start .. start + count - 1``."""
        return (np.arange(start, start + count) * self.step + 0.5) * self.downsample

    def to_slide(self, index: np.ndarray) -> np.ndarray:
        """Level-0 coordinates of (fractional) pixel indices."""
        return (np.asarray(index, dtype=float) * self.step + 0.5) * self.downsample

    @property
    def spacing(self) -> float:
        """Level-0 px between neighbouring mask pixel centres."""
        return self.step * self.downsample


@dataclass(frozen=True)
class Annotation:
    """One polygonal region in level-0 px, its class name and where it came from.

    ``where`` names it in messages, e.g. ``feature 3 (id "a1", "Tumor")``.
    """

    geometry: Polygon | MultiPolygon
    class_name: str
    where: str


def mask_to_polygons(mask: np.ndarray, sampling: Sampling) -> dict[int, list[Polygon]]:
    """Polygons (with holes) of every non-zero label of an (h, w) label mask, in level-0 px.

    Components are 4-connected (holes 8-connected); a component inside another's hole
    is a polygon of its own. Exteriors run counter-clockwise, holes clockwise.
    """
    from skimage.measure import find_contours, label, regionprops

    polygons: dict[int, list[Polygon]] = {}
    for value in np.unique(mask):
        if value == 0:
            continue
        for region in regionprops(label(mask == value, connectivity=1)):
            top, left = region.slice[0].start - 1, region.slice[1].start - 1
            rings = [np.column_stack([sampling.to_slide(c[:, 1] + left),
                                      sampling.to_slide(c[:, 0] + top)])
                     for c in find_contours(np.pad(region.image, 1).astype(np.uint8), 0.5)]
            outer = max(range(len(rings)), key=lambda k: Polygon(rings[k]).area)
            holes = [ring for k, ring in enumerate(rings) if k != outer]
            polygons.setdefault(int(value), []).append(
                orient(Polygon(rings[outer], holes), sign=1.0))
    return polygons


def mask_to_geojson(mask: np.ndarray, sampling: Sampling, class_names: tuple[str, ...],
                    class_colors: tuple[str, ...], simplify: float = 0.0) -> dict:
    """A GeoJSON FeatureCollection of QuPath annotations, one per connected region.

    Args:
        mask: (h, w) label mask; label ``k`` is ``class_names[k]``; 0 is not exported.
        sampling: where the mask's pixels lie on the slide.
        class_colors: "#rrggbb" per class.
        simplify: Douglas-Peucker tolerance in level-0 px (0 drops collinear points only).
    """
    features = []
    for value, polygons in sorted(mask_to_polygons(mask, sampling).items()):
        name = class_names[value] if value < len(class_names) else f"class {value}"
        color = _rgb(class_colors[value]) if value < len(class_colors) else [255, 0, 0]
        for polygon in polygons:
            polygon = orient(polygon.simplify(simplify, preserve_topology=True), sign=1.0)
            features.append({
                "type": "Feature", "geometry": mapping(polygon),
                "properties": {"objectType": "annotation", "isLocked": False,
                               "classification": {"name": name, "color": color}}})
    return {"type": "FeatureCollection", "features": features}


def read_geojson(path: str | Path, class_property: str | None = None) -> list[Annotation]:
    """The polygons of a GeoJSON file (a FeatureCollection, a Feature, or a list of them).

    The class is ``properties[class_property]``, or else the first of
    :data:`CLASS_PROPERTIES` present (a QuPath ``classification`` is ``{"name": ...}``).

    Raises:
        AnnotationError: the file is not JSON or not GeoJSON; every bad feature is listed.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise AnnotationError(path, f"not valid JSON (line {err.lineno}, column {err.colno}: "
                                    f"{err.msg})") from err
    except (OSError, UnicodeDecodeError) as err:
        raise AnnotationError(path, f"cannot be read ({err})") from err
    annotations, problems = [], []
    for index, feature in enumerate(_features(path, data)):
        where = _feature_name(index, feature)
        try:
            geometry = shape(feature["geometry"])
            class_name = _class_of(feature.get("properties") or {}, class_property)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError,
                shapely.errors.GEOSException) as err:
            problems.append(f"{where}: cannot be read ({type(err).__name__}: {err})")
            continue
        annotations.append(Annotation(geometry, class_name, where))
    raise_problems(path, problems)
    return annotations


def check_annotations(path: str | Path, annotations: Iterable[Annotation],
                      classes: Mapping[str, int], slide_shape: tuple[int, int],
                      repair: bool = False) -> list[tuple[Polygon | MultiPolygon, int]]:
    """(geometry, label) per annotation after checking it; nothing is returned unless all pass.

    Args:
        classes: class name -> label (matched case-insensitively).
        slide_shape: level-0 (h, w); every vertex must lie within ``[0, w] x [0, h]``.
        repair: mend self-intersections with shapely's ``make_valid`` instead of refusing.

    Raises:
        AnnotationError: listing each feature that is empty, not a polygon, invalid,
            outside the slide or of an unknown class.
    """
    lookup = {name.lower(): int(value) for name, value in classes.items()}
    checked, problems = [], []
    for annotation in annotations:
        geometry, problem = _checked_geometry(annotation.geometry, slide_shape, repair)
        if problem is None and annotation.class_name.lower() not in lookup:
            problem = (f"unknown class {annotation.class_name!r} (known: "
                       f"{', '.join(sorted(lookup))}); map it with --class NAME=ID")
        if problem is not None:
            problems.append(f"{annotation.where}: {problem}")
        else:
            checked.append((geometry, lookup[annotation.class_name.lower()]))
    raise_problems(path, problems)
    return checked


def raise_problems(path: str | Path, problems: list[str]) -> None:
    """Raise one AnnotationError listing ``problems`` (the first :data:`MAX_LISTED`)."""
    if not problems:
        return
    listed = "\n  ".join(problems[:MAX_LISTED])
    more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    raise AnnotationError(path, f"{len(problems)} bad annotation(s), nothing was imported:"
                                f"\n  {listed}{more}")


def _checked_geometry(geometry, slide_shape: tuple[int, int], repair: bool):
    """(geometry, None) when usable, else (None, the problem in words)."""
    if not isinstance(geometry, (Polygon, MultiPolygon)):
        return None, f"is a {geometry.geom_type}; only Polygon and MultiPolygon have an area"
    if geometry.is_empty or not np.isfinite(shapely.get_coordinates(geometry)).all():
        return None, "is empty or has non-finite coordinates"
    if geometry.convex_hull.area <= 0:
        return None, "is empty (its points lie on a line)"
    if not geometry.is_valid:
        if not repair:
            return None, (f"is not a valid polygon ({shapely.is_valid_reason(geometry)}); "
                          "fix it, or import with --repair")
        parts = [p for p in shapely.get_parts(shapely.make_valid(geometry))
                 if isinstance(p, (Polygon, MultiPolygon))]
        geometry = shapely.unary_union(parts) if parts else Polygon()
    if geometry.area <= 0:
        return None, "is empty (zero area)"
    x0, y0, x1, y1 = geometry.bounds
    height, width = slide_shape
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        return None, (f"reaches outside the slide (x {x0:g}..{x1:g}, y {y0:g}..{y1:g}; the "
                      f"slide is {width} x {height} px)")
    return geometry, None


def _features(path: Path, data) -> list[dict]:
    """The features of a FeatureCollection, a Feature, or a list of Features."""
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        data = data.get("features")
    elif isinstance(data, dict) and data.get("type") == "Feature":
        data = [data]
    if not isinstance(data, list) or not all(isinstance(f, dict) for f in data):
        raise AnnotationError(path, "not GeoJSON: expected a FeatureCollection, a Feature or a "
                                    "list of Features")
    return data


def _feature_name(index: int, feature: dict) -> str:
    """``feature 3`` with its id and name when it has them."""
    extra = [f"id {feature['id']!r}"] if "id" in feature else []
    name = (feature.get("properties") or {}).get("name")
    extra += [repr(name)] if name else []
    return f"feature {index}" + (f" ({', '.join(extra)})" if extra else "")


def _class_of(properties: dict, class_property: str | None) -> str:
    keys = (class_property,) if class_property else CLASS_PROPERTIES
    for key in keys:
        value = properties.get(key)
        if isinstance(value, dict):
            value = value.get("name")
        if value is not None:
            return str(value)
    raise ValueError(f"no class: none of the properties {', '.join(keys)} is set")


def _rgb(color: str) -> list[int]:
    """"#rrggbb" -> [r, g, b]."""
    color = color.lstrip("#")
    return [int(color[k:k + 2], 16) for k in (0, 2, 4)]
