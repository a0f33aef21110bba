"""The Slide dock, driven in a real (virtual-display) napari viewer."""

from __future__ import annotations

from napari_histoseg._qt.slide_widget import SlideWidget


def _rows(widget: SlideWidget) -> dict[str, str]:
    form = widget._form
    return {form.itemAt(row, form.ItemRole.LabelRole).widget().text().rstrip(":"):
            form.itemAt(row, form.ItemRole.FieldRole).widget().text()
            for row in range(form.rowCount())}


def test_dropped_slide_opens_in_microns_and_dock_describes_it(make_napari_viewer, pyramid_tiff):
    viewer = make_napari_viewer()
    widget = SlideWidget(viewer)
    assert not widget.pair_button.isEnabled()
    [layer] = viewer.open(str(pyramid_tiff), plugin="napari-histoseg")
    assert layer.multiscale and layer.rgb
    assert tuple(layer.scale) == (0.5, 0.5)
    rows = _rows(widget)
    assert rows["Dimensions"] == "2,048 × 1,536 px"
    assert rows["Resolution"].startswith("0.5000 × 0.5000")
    assert rows["Vendor"] == "generic-tiff"
    assert widget.pair_button.isEnabled()


def test_paired_slide_is_added_and_linked(make_napari_viewer, pyramid_tiff, tmp_path, qtbot):
    viewer = make_napari_viewer()
    widget = SlideWidget(viewer)
    [he_layer] = viewer.open(str(pyramid_tiff), plugin="napari-histoseg")
    paired = widget.open_paired_slide(pyramid_tiff)
    assert paired.metadata["role"] == "ck56"
    assert paired.metadata["paired_with"] == str(pyramid_tiff)
    assert he_layer.metadata["paired_slide_path"] == str(pyramid_tiff)
    assert widget._status.text() == f"Layer: {paired.name}"
    assert paired.name.startswith("CK5/6")
    qtbot.waitUntil(lambda: not widget.pairing.busy, timeout=120_000)   # registration ends


def test_broken_paired_slide_adds_nothing(make_napari_viewer, pyramid_tiff, tmp_path):
    viewer = make_napari_viewer()
    widget = SlideWidget(viewer)
    viewer.open(str(pyramid_tiff), plugin="napari-histoseg")
    broken = tmp_path / "broken.svs"
    broken.write_text("not a slide")
    assert widget.open_paired_slide(broken) is None
    assert len(viewer.layers) == 1
