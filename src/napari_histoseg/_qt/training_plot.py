"""Live training curves in a dock: loss and validation MIoU per epoch (matplotlib's Qt canvas).

Draws what a ``training.run_progress.RunProgress`` holds; computes nothing.
Colours follow napari's theme so the plot reads on the dark and light themes.
"""

from __future__ import annotations

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from napari_histoseg.training.run_progress import RunProgress


class TrainingPlot(FigureCanvasQTAgg):
    """Two small panels side by side: training loss, and validation MIoU."""

    def __init__(self, theme: dict[str, str] | None = None):
        theme = theme or {"background": "#ffffff", "text": "#000000", "line": "#1f77b4"}
        self.figure = Figure(figsize=(4.0, 2.0), dpi=100, facecolor=theme["background"])
        # fixed margins: a constrained layout would be re-solved on every redraw, on the GUI thread
        self.figure.subplots_adjust(left=0.1, right=0.98, bottom=0.2, top=0.88, wspace=0.3)
        super().__init__(self.figure)
        self.loss_axes, self.miou_axes = self.figure.subplots(1, 2)
        self.lines = {}
        for axes, key, title in ((self.loss_axes, "loss", "Training loss"),
                                 (self.miou_axes, "miou", "Validation MIoU")):
            _style(axes, title, theme)
            (self.lines[key],) = axes.plot([], [], "o-", color=theme["line"], markersize=3, linewidth=1.5)
        self.setMinimumHeight(190)

    def show_progress(self, progress: RunProgress) -> None:
        """Redraw both curves from ``progress``."""
        self.lines["loss"].set_data(progress.epochs, progress.losses)
        self.lines["miou"].set_data(progress.epochs, progress.val_miou)
        for axes in (self.loss_axes, self.miou_axes):
            axes.relim()
            axes.autoscale_view()
            axes.set_xlim(0.5, max(progress.total_epochs, len(progress.epochs), 1) + 0.5)
        self.miou_axes.set_ylim(0, 1)
        self.draw_idle()

    def points(self) -> int:
        """How many epochs are plotted."""
        return len(self.lines["loss"].get_xdata())


def _style(axes, title: str, theme: dict[str, str]) -> None:
    axes.set_facecolor(theme["background"])
    axes.set_title(title, color=theme["text"], fontsize=9)
    axes.set_xlabel("epoch", color=theme["text"], fontsize=8)
    axes.tick_params(colors=theme["text"], labelsize=7)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    for spine in axes.spines.values():
        spine.set_color(theme["text"])
    axes.grid(True, alpha=0.25, color=theme["text"])
