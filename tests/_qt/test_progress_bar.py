"""The Segment dock's progress bar paints its value with the next repaint, not inside setValue."""

from __future__ import annotations

from qtpy.QtCore import QEvent, QObject
from qtpy.QtWidgets import QProgressBar

from napari_histoseg._qt.progress_bar import DeferredProgressBar


class PaintCounter(QObject):
    def __init__(self):
        super().__init__()
        self.paints = 0

    def eventFilter(self, watched, event):  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def shown_bar(qtbot, kind):
    bar = kind()
    bar.setRange(0, 100)
    qtbot.addWidget(bar)
    bar.show()
    qtbot.waitExposed(bar)
    counter = PaintCounter()
    bar.installEventFilter(counter)
    qtbot.wait(50)
    counter.paints = 0
    return bar, counter


def test_set_value_paints_later_not_at_once(qtbot):
    bar, counter = shown_bar(qtbot, DeferredProgressBar)
    bar.setValue(40)
    assert counter.paints == 0 and bar.value() == 40
    qtbot.waitUntil(lambda: counter.paints > 0, timeout=2000)  # the new value is shown


def test_qt_own_bar_paints_inside_set_value(qtbot):
    """What the class is for: Qt's bar repaints synchronously (the window with it)."""
    bar, counter = shown_bar(qtbot, QProgressBar)
    bar.setValue(40)
    assert counter.paints == 1
