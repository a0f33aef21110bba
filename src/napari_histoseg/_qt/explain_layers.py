"""The Explain dock's layers: the heatmap as a translucent colormapped image with a
colour bar, and boxes of ranked regions as Shapes layers, all in µm on the slide.

Layer *data* is built here without Qt (napari layer models), so a worker
thread may call these; the dock adds or updates the layers on the GUI thread.
"""

from __future__ import annotations

import numpy as np

HEATMAP_NAME = "Grad-CAM heatmap"
KEY_REGIONS_NAME = "Key regions"
QUEUE_NAME = "Review queue"
#: Screen px per µm at a 40x-equivalent view (0.25 µm/px on screen).
ZOOM_40X = 4.0


def heatmap_colormap():
    """Transparent at 0, then blue, cyan, green to yellow at 1: colours H&E lacks, so the
    heat stands out on pink and purple tissue, and cold tissue stays visible."""
    from napari.utils.colormaps import Colormap

    colors = [[0.0, 0.0, 0.0, 0.0], [0.1, 0.2, 1.0, 0.55], [0.0, 0.85, 1.0, 0.8],
              [0.2, 1.0, 0.3, 0.9], [1.0, 1.0, 0.0, 1.0]]
    return Colormap(colors=colors, controls=[0.0, 0.15, 0.5, 0.75, 1.0], name="grad-cam heat",
                    display_name="Grad-CAM heat")


def heatmap_levels(store) -> list:
    """(h, w) float32 dask arrays of the heatmap pyramid, largest first (NaN = not computed)."""
    import dask.array as da

    from napari_histoseg.io.blend import dequantise

    return [da.from_zarr(level)[0].map_blocks(dequantise, dtype=np.float32)
            for level in store.probability_levels()]


def heatmap_layer_data(store, slide_path: str) -> tuple:
    """``(data, kwargs, "image")`` of the heatmap store, aligned with the slide in µm."""
    kwargs = {"name": HEATMAP_NAME, "multiscale": True, "scale": store.scale,
              "translate": store.translate, "units": ("µm", "µm"),
              "colormap": heatmap_colormap(), "contrast_limits": (0.0, 1.0),
              "opacity": 0.8, "blending": "translucent",
              "metadata": {"histoseg_heatmap_of": slide_path}}
    return heatmap_levels(store), kwargs, "image"


def show_colorbar(layer) -> None:
    """The heatmap's legend: a colour bar from 0 (not looked at) to 1 (most looked at)."""
    layer.colorbar.visible = True
    layer.colorbar.box = True
    layer.colorbar.size = (20, 160)


def boxes_as_rectangles(boxes) -> list[np.ndarray]:
    """(4, 2) rectangle corners (y, x) in level-0 px for each (y0, x0, y1, x1)."""
    return [np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]], dtype=float)
            for y0, x0, y1, x1 in boxes]


def regions_layer_data(regions, slide_mpp, name: str, colour: str) -> tuple:
    """``(data, kwargs, "shapes")``: one labelled rectangle per ranked region, in µm."""
    labels = [f"{r.rank + 1}: {r.score:.2f}" for r in regions]
    kwargs = {"name": name, "shape_type": "rectangle", "scale": tuple(slide_mpp),
              "units": ("µm", "µm"), "edge_color": colour, "face_color": "transparent",
              "edge_width": [min(max(4.0, (r.box[2] - r.box[0]) / 32), 12.0) for r in regions],
              "features": {"label": labels, "score": [r.score for r in regions]},
              "text": {"string": "{label}", "color": "black", "size": 13, "anchor": "upper_left"}}
    return boxes_as_rectangles([r.box for r in regions]), kwargs, "shapes"


def camera_for(box, slide_mpp, canvas_px: tuple[int, int], zoom: float | None) -> tuple:
    """(centre (y, x) in µm, zoom in screen px per µm) showing ``box`` (y0, x0, y1, x1 level-0
    px): at ``zoom`` when given, else the box fitted to 90% of the canvas."""
    y0, x0, y1, x1 = box
    centre = ((y0 + y1) / 2 * slide_mpp[0], (x0 + x1) / 2 * slide_mpp[1])
    if zoom is None:
        h_um, w_um = (y1 - y0) * slide_mpp[0], (x1 - x0) * slide_mpp[1]
        zoom = 0.9 * min(canvas_px[0] / max(h_um, 1e-6), canvas_px[1] / max(w_um, 1e-6))
    return centre, zoom
