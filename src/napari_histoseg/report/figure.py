"""The report's picture: the slide thumbnail, and beside it the same with the mask overlaid
(matplotlib, Agg).

Both panels are in mm from the slide's top-left corner, so the axes are the scale. The mask
is read from the coarsest pyramid level that still has ``max_side`` px on its longer side
(never level 0 of a large slide); tumour classes are drawn in the checkpoint's colours,
not-computed tissue in translucent grey, and the longest lesions are boxed and numbered
as in the lesion table. No pyplot: the figure is drawn off screen, so any thread may call
:func:`overview_png`.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from napari_histoseg.io.blend import NOT_COMPUTED
from napari_histoseg.io.results import ResultStore
from napari_histoseg.report.slide_report import SlideReport

#: Lesions boxed and numbered in the overlay.
MARKED_LESIONS = 5
#: Opacity of the tumour colours over the thumbnail.
OVERLAY_ALPHA = 0.55


def mask_overview(store: ResultStore, max_side: int = 1024) -> tuple[np.ndarray, int]:
    """(h, w) uint8 mask of the coarsest level whose longer side is at least ``max_side``
    px (or level 0 when it is smaller), and that level's number."""
    levels = store.mask_levels()
    chosen = next((k for k in reversed(range(len(levels)))
                   if max(levels[k].shape) >= min(max_side, max(levels[0].shape))), 0)
    return np.asarray(levels[chosen][...]), chosen


def slide_thumbnail(slide_path: str, max_side: int = 1024
                    ) -> tuple[np.ndarray, tuple[int, int]] | None:
    """(h, w, 3) uint8 thumbnail and the slide's level-0 (h, w), or None when the slide
    file is gone or unreadable."""
    from napari_histoseg.io.errors import SlideError
    from napari_histoseg.io.slide import open_slide

    if not slide_path or not Path(slide_path).is_file():
        return None
    try:
        slide = open_slide(slide_path)
        return slide.thumbnail(max_side), slide.level_shapes[0]
    except SlideError:
        return None


def overlay_rgba(mask: np.ndarray, colors: tuple[str, ...],
                 alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """(h, w, 4) float RGBA: tumour classes in their colours, not computed in grey."""
    from matplotlib.colors import to_rgba

    lut = np.zeros((256, 4))
    for index, colour in enumerate(colors[1:], start=1):
        lut[index] = (*to_rgba(colour)[:3], alpha)
    lut[NOT_COMPUTED] = (0.5, 0.5, 0.5, 0.35)
    return lut[mask]


def overview_png(report: SlideReport, max_side: int = 1024, dpi: int = 110) -> bytes:
    """PNG bytes of the two panels: thumbnail, and thumbnail with the overlay."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    store = ResultStore.open(Path(report.workspace) / "results.zarr")
    mask, level = mask_overview(store, max_side)
    um_per_px = store.spec.grid.downsample * 2**level
    extent_mm = (0, mask.shape[1] * um_per_px * report.slide_mpp[1] / 1000,
                 mask.shape[0] * um_per_px * report.slide_mpp[0] / 1000, 0)
    thumbnail = slide_thumbnail(report.slide, max_side)
    marker_mm = 0.005 * max(extent_mm[1], extent_mm[2])
    figure = Figure(figsize=(11, 5.2), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, sharex=True, sharey=True)
    marked = min(len(report.lesions), MARKED_LESIONS)
    right_title = "Tumour mask" + (f" (lesions 1-{marked} boxed)" if marked > 1 else "")
    for axes, title in ((left, "Slide"), (right, right_title)):
        if thumbnail is not None:
            (h0, w0), image = thumbnail[1], thumbnail[0]
            axes.imshow(image, extent=(0, w0 * report.slide_mpp[1] / 1000,
                                       h0 * report.slide_mpp[0] / 1000, 0))
        elif axes is left:
            axes.text(0.5, 0.5, "slide file not found", transform=axes.transAxes,
                      ha="center", va="center", color="#777")
        axes.set(title=title, xlabel="mm", ylabel="mm", facecolor="white")
    right.imshow(overlay_rgba(mask, report.class_colors), extent=extent_mm,
                 interpolation="nearest")
    _mark_lesions(right, report, marker_mm)
    _legend(right, report, show_not_computed=bool((mask == NOT_COMPUTED).any()))
    left.set(xlim=(0, extent_mm[1]), ylim=(extent_mm[2], 0))
    largest = report.largest
    figure.suptitle(f"{report.name}: {report.category}"
                    + (f" (largest lesion {largest.diameter_mm:.2f} mm)" if largest else ""))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _mark_lesions(axes, report: SlideReport, margin_mm: float) -> None:
    """A box around each of the longest lesions, numbered as in the lesion table."""
    from matplotlib.patches import Rectangle

    my, mx = (report.slide_mpp[0] / 1000, report.slide_mpp[1] / 1000)
    for lesion in report.lesions[:MARKED_LESIONS]:
        y0, x0, y1, x1 = lesion.box
        corner = (x0 * mx - margin_mm, y0 * my - margin_mm)
        axes.add_patch(Rectangle(corner, (x1 - x0) * mx + 2 * margin_mm,
                                 (y1 - y0) * my + 2 * margin_mm, fill=False,
                                 edgecolor="#1f3bff", linewidth=1.2))
        axes.annotate(str(lesion.rank), corner, xytext=(1, 2), textcoords="offset points",
                      va="bottom", color="#1f3bff", fontsize=10, fontweight="bold")


def _legend(axes, report: SlideReport, show_not_computed: bool) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=colour, alpha=OVERLAY_ALPHA, label=name) for name, colour
               in zip(report.class_names[1:], report.class_colors[1:])]
    if show_not_computed:
        handles.append(Patch(color=(0.5, 0.5, 0.5, 0.35), label="not computed"))
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8,
                frameon=False)
