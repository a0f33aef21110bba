"""Finding the slide layer, the visible region, and adding result layers in µm."""

from __future__ import annotations

import numpy as np

PAIRED_ROLE = "ck56"
RESULT_KEY = "histoseg_result"
TRANSPARENT = (0.0, 0.0, 0.0, 0.0)


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
    """Add (replacing earlier ones of the same store) the mask and, if asked, tumour probability.

    Both are multiscale over the store's zarr pyramids, so they fill in as tiles
    are written once the layers are refreshed.
    """
    from napari.utils.colormaps import DirectLabelColormap

    source = str(store.path)
    for layer in [la for la in viewer.layers if la.metadata.get(RESULT_KEY) == source]:
        viewer.layers.remove(layer)
    placement = {"scale": store.scale, "translate": store.translate, "units": ("µm", "µm"),
                 "metadata": {RESULT_KEY: source}}
    colours = {None: TRANSPARENT, 0: TRANSPARENT}
    colours.update({index: colour for index, colour in enumerate(store.spec.class_colors)
                    if index > 0})
    layers = []
    if show_probability:
        layers.append(viewer.add_image(
            _tumour_probability_levels(store), multiscale=True, name="Tumour probability",
            colormap="inferno", contrast_limits=(0.0, 1.0), opacity=0.6, **placement))
    layers.append(viewer.add_labels(
        list(store.mask_levels()), multiscale=True, name="Tumour mask", opacity=0.5,
        colormap=DirectLabelColormap(color_dict=colours), **placement))
    return layers


def _tumour_probability_levels(store) -> list:
    """Lazy (h, w) probability of every non-background class together, per level."""
    import dask.array as da

    return [1 - da.from_zarr(level)[0] for level in store.probability_levels()]
