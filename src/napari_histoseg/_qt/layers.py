"""Finding the slide layer, the visible region, and adding result layers in µm."""

from __future__ import annotations

import numpy as np

from napari_histoseg._reader import RESULT_KEY, result_layer_data

PAIRED_ROLE = "ck56"


def slide_layer_of(viewer):
    """The active layer if it is a slide, else the first H&E slide layer, else None."""
    active = viewer.layers.selection.active
    if active is not None and "slide_path" in active.metadata:
        return active
    return next((layer for layer in viewer.layers if "slide_path" in layer.metadata
                 and layer.metadata.get("role") != PAIRED_ROLE), None)


def viewport_box(layer) -> tuple[tuple[float, float], tuple[float, float]]:
    """The part of ``layer``'s slide on screen, as ((y, x), (h, w)) in level-0 px."""
    corners = np.asarray(layer.corner_pixels, dtype=float)[:, :2]
    shapes = layer.level_shapes if layer.multiscale else [layer.data.shape]
    downsample = np.asarray(shapes[0][:2], float) / np.asarray(shapes[layer.data_level][:2], float)
    (top, left), (bottom, right) = corners * downsample
    return ((top, left), (bottom - top, right - left))


def add_result_layers(viewer, store, show_probability: bool) -> list:
    """Add the store's result layers, replacing earlier ones of the same store."""
    from napari.layers import Layer

    source = str(store.path)
    for layer in [la for la in viewer.layers if la.metadata.get(RESULT_KEY) == source]:
        viewer.layers.remove(layer)
    return [viewer.add_layer(Layer.create(*data))
            for data in result_layer_data(store, show_probability)]
