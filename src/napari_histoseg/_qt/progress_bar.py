"""A progress bar that paints its new value with the window's next repaint, not at once.

Qt's ``QProgressBar.setValue`` repaints the bar synchronously. In napari's
window (an OpenGL canvas beside the docks) a synchronous repaint composes the
whole window, so each batch's progress update painted the window twice: once
inside the handler, once more for the status text on the next pass of the
event loop. Here the value only marks the bar dirty; Qt paints it together
with everything else that changed. Qt (qtpy) only.
"""

from __future__ import annotations

from qtpy.QtWidgets import QProgressBar


class DeferredProgressBar(QProgressBar):
    """A ``QProgressBar`` whose ``setValue`` schedules the repaint instead of doing it."""

    def setValue(self, value: int) -> None:  # noqa: N802 - Qt's name
        """Set the value (an int between minimum and maximum); painted on the next repaint."""
        self.setUpdatesEnabled(False)  # QProgressBar.setValue's repaint() paints nothing now
        try:
            super().setValue(value)
        finally:
            self.setUpdatesEnabled(True)  # schedules an update() of the bar
