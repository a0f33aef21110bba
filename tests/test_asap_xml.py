"""ASAP / CAMELYON XML: groups, exclusions as holes, and hostile or broken files."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg.io.annotation_files import annotation_mask, import_annotations
from napari_histoseg.io.annotations import DEFAULT_CLASSES, AnnotationError
from napari_histoseg.io.asap_xml import read_asap_xml
from napari_histoseg.io.labels import open_label_pyramid


def asap_xml(annotations: list[tuple[str, str, list[tuple[float, float]]]],
             kind: str = "Polygon") -> str:
    """An ASAP file; coordinates are written in reverse Order to test sorting."""
    parts = ['<?xml version="1.0"?>', "<ASAP_Annotations>", "  <Annotations>"]
    for index, (name, group, points) in enumerate(annotations):
        parts.append(f'    <Annotation Name="{name}" Type="{kind}" PartOfGroup="{group}" '
                     f'Color="#F4FA58"><Coordinates>')
        parts += [f'      <Coordinate Order="{order}" X="{x}" Y="{y}" />'
                  for order, (x, y) in reversed(list(enumerate(points)))]
        parts.append("    </Coordinates></Annotation>")
    parts += ["  </Annotations>", "  <AnnotationGroups>",
              '    <Group Name="_0" PartOfGroup="None" Color="#FF0000"><Attributes /></Group>',
              "  </AnnotationGroups>", "</ASAP_Annotations>"]
    return "\n".join(parts)


def square(x, y, side):
    return [(x, y), (x + side, y), (x + side, y + side), (x, y + side)]


CAMELYON = [("Annotation 0", "_2", square(200, 200, 100)),        # exclusion, listed first,
            ("Annotation 1", "_0", square(100, 100, 400)),        # inside this tumour
            ("Annotation 2", "_1", [(800, 100), (1000, 100), (800, 300)]),   # a triangle
            ("Annotation 3", "metastases", square(600, 600, 80))]


def test_camelyon_xml_imports_to_the_expected_polygons(tmp_path):
    path = tmp_path / "tumor_001.xml"
    path.write_text(asap_xml(CAMELYON))
    annotations = read_asap_xml(path)
    assert [a.class_name for a in annotations] == ["_2", "_0", "_1", "metastases"]
    assert [a.geometry.area for a in annotations] == [10000.0, 160000.0, 20000.0, 6400.0]
    assert list(annotations[1].geometry.exterior.coords)[:2] == [(100.0, 100.0), (500.0, 100.0)]
    assert annotations[1].where == "annotation 1 ('Annotation 1')"


def test_exclusions_cut_holes_into_the_imported_mask(tmp_path):
    path = tmp_path / "tumor_001.xml"
    path.write_text(asap_xml(CAMELYON))
    areas = import_annotations(path, tmp_path / "mask.tif", (1024, 1200), downsample=4.0,
                               classes=DEFAULT_CLASSES)
    assert areas == {1: 160000.0 + 20000.0 + 6400.0, 0: 10000.0}
    mask = open_label_pyramid(tmp_path / "mask.tif")[0].compute()
    assert mask.shape == (256, 300)
    # 4 level-0 px per mask px: tumour minus exclusion, plus the triangle and the square
    expected = (400 * 400 - 100 * 100 + 200 * 200 / 2 + 80 * 80) / 16
    assert abs(int(mask.sum()) - expected) < 0.01 * expected
    assert mask[(250 // 4), (250 // 4)] == 0 and mask[(150 // 4), (150 // 4)] == 1


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<ASAP_Annotations><Annotations><Annotation Name="&lol9;" Type="Polygon" PartOfGroup="_0">
</Annotation></Annotations></ASAP_Annotations>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE a [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<ASAP_Annotations><Annotations><Annotation Name="&secret;"/></Annotations></ASAP_Annotations>"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "external"])
def test_entity_declarations_are_refused(tmp_path, text):
    path = tmp_path / "evil.xml"
    path.write_text(text)
    with pytest.raises(AnnotationError, match="evil.xml: refused: the XML declares"):
        read_asap_xml(path)


@pytest.mark.parametrize("text, message", [
    ("<ASAP_Annotations><Annotations>", "not valid XML"),
    ("<Annotations/>", "not an ASAP annotation file"),
    (asap_xml([("Dot 1", "_0", [(1, 1)])], kind="Dot"), r"annotation 0 \('Dot 1'\): is a Dot"),
    (asap_xml([("A", "_0", [(1, 1), (5, 5)])]), "has 2 coordinate"),
    (asap_xml([("A", "_0", [(1, 1), ("x", 5), (3, 9)])]), "coordinate 1 is not a number"),
])
def test_broken_xml_gets_a_message_naming_the_file(tmp_path, text, message):
    path = tmp_path / "broken.xml"
    path.write_text(text)
    with pytest.raises(AnnotationError, match=message) as caught:
        read_asap_xml(path)
    assert str(caught.value).startswith(str(path))


def test_xml_outside_the_slide_or_of_an_unknown_group_writes_nothing(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text(asap_xml([("In", "_0", square(10, 10, 50)),
                              ("Out", "_0", square(900, 10, 200)),
                              ("Odd", "stroma", square(10, 10, 20))]))
    out = tmp_path / "mask.tif"
    with pytest.raises(AnnotationError) as caught:
        import_annotations(path, out, (500, 1000), classes=DEFAULT_CLASSES)
    message = str(caught.value)
    assert "2 bad annotation(s), nothing was imported" in message
    assert "annotation 1 ('Out'): reaches outside the slide" in message
    assert "annotation 2 ('Odd'): unknown class 'stroma'" in message
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.xml"]


def test_decimal_commas_are_read(tmp_path):
    path = tmp_path / "comma.xml"
    path.write_text(asap_xml([("A", "_0", [("1,5", "2,5"), ("11,5", "2,5"), ("11,5", "12,5")])]))
    np.testing.assert_allclose(read_asap_xml(path)[0].geometry.bounds, (1.5, 2.5, 11.5, 12.5))


def test_a_window_of_the_annotations_rasterises_in_memory(tmp_path):
    path = tmp_path / "tumor_001.xml"
    path.write_text(asap_xml(CAMELYON))
    window = annotation_mask(path, (1024, 1200), downsample=2.0, location=(50, 50),
                             size=(100, 100))
    assert window.shape == (100, 100)
    assert window[0, 0] == 1 and window[60, 60] == 0 and window[99, 0] == 1
