"""Finding the slide layer and the visible region; result layers made once per slide, in µm.

Adding a Labels layer costs napari 100-200 ms on the GUI thread and removing
one more, so result layers are created once per slide and later runs swap
their data, scale and colours in place. Every layer of a slide is in µm: a
slide whose file states no µm/px is given the one its run used.
"""

from __future__ import annotations

import numpy as np

from napari_histoseg._reader import RESULT_KEY, result_layer_data

PAIRED_ROLE = "ck56"
#: Metadata key naming the slide (path) a result layer belongs to.
RESULT_SLIDE_KEY = "histoseg_result_of"


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


def place_slide_layer(viewer, layer, slide_mpp: tuple[float, float]) -> bool:
    """Give a slide layer without µm (its file states none) the run's µm/px; True if changed."""
    if layer.metadata.get("mpp") is not None:
        return False
    scale = tuple(float(v) for v in slide_mpp)
    if tuple(layer.scale[-2:]) == scale and str(layer.units[-1]) in ("µm", "micrometer"):
        return False
    layer.units = ("µm", "µm")
    layer.scale = scale
    layer.metadata["mpp_used"] = scale
    viewer.reset_view()
    return True


def show_results(viewer, view, slide_path: str) -> list:
    """The result layers of ``slide_path`` showing ``view``; created only the first time.

    Args:
        view: an ``io.display_cache.ResultView`` (its levels are what the layers show).
    Returns the layers, mask last. A probability layer not wanted this run is hidden.
    """
    from napari.layers import Layer

    layers = []
    wanted = result_layer_data(view.store, view.probability_levels is not None, view=view)
    for data, kwargs, kind in wanted:
        kwargs["metadata"][RESULT_SLIDE_KEY] = slide_path
        existing = _result_layer(viewer, slide_path, str(view.store.path), kind)
        if existing is None:
            layers.append(_add_keeping_selection(viewer, Layer.create(data, kwargs, kind)))
        else:
            _swap(existing, data, kwargs)
            layers.append(existing)
    if view.probability_levels is None:
        unwanted = _result_layer(viewer, slide_path, str(view.store.path), "image")
        if unwanted is not None:
            unwanted.visible = False
    return layers


def _result_layer(viewer, slide_path: str, store_path: str, kind: str):
    """The existing result layer of that slide (or store) and kind ("labels", "image")."""
    for layer in viewer.layers:
        meta = layer.metadata
        ours = meta.get(RESULT_SLIDE_KEY) == slide_path or meta.get(RESULT_KEY) == store_path
        if ours and RESULT_KEY in meta and layer._type_string == kind:
            return layer
    return None


def _swap(layer, data, kwargs: dict) -> None:
    """Point an existing result layer at new levels, placement and colours."""
    layer.metadata.update(kwargs["metadata"])
    layer.data = data
    if tuple(layer.scale) != tuple(kwargs["scale"]):
        layer.scale = kwargs["scale"]
    if tuple(layer.translate) != tuple(kwargs["translate"]):
        layer.translate = kwargs["translate"]
    if layer._type_string == "labels":
        from napari.utils.colormaps import DirectLabelColormap

        layer.colormap = DirectLabelColormap(color_dict=kwargs["colormap"])
    layer.visible = True


def _add_keeping_selection(viewer, layer):
    """Add ``layer`` without making it the active one (napari's default).

    Activating a new Labels layer builds its controls on the GUI thread; during
    a run the user keeps working with the slide layer.
    """
    layers = viewer.layers
    activate = getattr(layers, "_activate_on_insert", None)
    if activate is not None:
        layers._activate_on_insert = False
    try:
        return viewer.add_layer(layer)
    finally:
        if activate is not None:
            layers._activate_on_insert = activate
