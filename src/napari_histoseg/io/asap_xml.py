"""ASAP / CAMELYON XML annotations -> :class:`~napari_histoseg.io.annotations.Annotation`.

The file is parsed with defusedxml: a document that declares a DTD or entities (the
"billion laughs" expansion, external entities) is refused before anything is expanded.
The layout read::

    <ASAP_Annotations>
      <Annotations>
        <Annotation Name="Annotation 0" Type="Polygon" PartOfGroup="_0" Color="#F4FA58">
          <Coordinates>
            <Coordinate Order="0" X="1043.5" Y="2210.0" />
            ...

Coordinates are level-0 px. The class of an annotation is its ``PartOfGroup`` (CAMELYON16:
``_0``/``_1`` tumour, ``_2`` exclusion; CAMELYON17: ``metastases``), or its ``Name`` when
it belongs to no group. Polygon, Spline and Rectangle annotations are areas; dots and
point sets are refused.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
import numpy as np
from shapely.geometry import Polygon

from napari_histoseg.io.annotations import Annotation, AnnotationError, raise_problems

AREA_TYPES = ("polygon", "spline", "rectangle")


def read_asap_xml(path: str | Path) -> list[Annotation]:
    """The polygons of an ASAP XML file, in file order.

    Raises:
        AnnotationError: the file is not XML, declares a DTD or entities, is not an ASAP
            annotation file, or has annotations that cannot be read (each one listed).
    """
    path = Path(path)
    try:
        root = SafeET.parse(path, forbid_dtd=True).getroot()
    except defusedxml.DefusedXmlException as err:
        raise AnnotationError(path, f"refused: the XML declares a DTD or entities ({err}); "
                                    "ASAP annotation files need neither") from err
    except ParseError as err:
        raise AnnotationError(path, f"not valid XML ({err})") from err
    except OSError as err:
        raise AnnotationError(path, f"cannot be read ({err})") from err
    if root.tag != "ASAP_Annotations":
        raise AnnotationError(path, f"not an ASAP annotation file (the root element is "
                                    f"<{root.tag}>, expected <ASAP_Annotations>)")
    annotations, problems = [], []
    for index, element in enumerate(root.iter("Annotation")):
        where = f"annotation {index} ({element.get('Name', 'unnamed')!r})"
        try:
            annotations.append(Annotation(_polygon(element), _class_of(element), where))
        except ValueError as err:
            problems.append(f"{where}: {err}")
    raise_problems(path, problems)
    return annotations


def _class_of(element: Element) -> str:
    group = element.get("PartOfGroup")
    if group and group != "None":
        return group
    name = element.get("Name")
    if not name:
        raise ValueError("has neither a PartOfGroup nor a Name to use as its class")
    return name


def _polygon(element: Element) -> Polygon:
    """The annotation's vertices (sorted by Order) as a polygon, not yet checked."""
    kind = element.get("Type", "Polygon")
    if kind.lower() not in AREA_TYPES:
        raise ValueError(f"is a {kind}; only {', '.join(t.title() for t in AREA_TYPES)} "
                         "annotations have an area")
    vertices = []
    for coordinate in element.iter("Coordinate"):
        try:
            vertices.append((float(coordinate.get("Order", len(vertices))),
                             _number(coordinate.get("X")), _number(coordinate.get("Y"))))
        except (TypeError, ValueError) as err:
            raise ValueError(f"coordinate {len(vertices)} is not a number pair "
                             f"(X={coordinate.get('X')!r}, Y={coordinate.get('Y')!r})") from err
    if len(vertices) < 3:
        raise ValueError(f"has {len(vertices)} coordinate(s); a polygon needs at least 3")
    return Polygon(np.array(sorted(vertices))[:, 1:])


def _number(text: str | None) -> float:
    """A coordinate; some exporters write a decimal comma ("1043,5")."""
    if text is None:
        raise TypeError("missing")
    return float(text.replace(",", ".") if "." not in text else text)
