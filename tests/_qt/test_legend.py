"""The mask legend names each non-background class in its colour."""

from __future__ import annotations

from napari_histoseg._qt.legend import ClassLegend


def test_legend_lists_classes_after_background(qtbot):
    legend = ClassLegend()
    qtbot.addWidget(legend)
    assert not legend.isVisibleTo(None) or legend.isHidden()
    legend.show_classes(("background", "carcinoma in situ", "invasive carcinoma"),
                        ("#000000", "#00c000", "#ff2a2a"))
    text = legend.text()
    assert "carcinoma in situ" in text and "invasive carcinoma" in text and "background" not in text
    assert text.index("#00c000") < text.index("carcinoma in situ") < text.index("#ff2a2a")
    assert not legend.isHidden()
