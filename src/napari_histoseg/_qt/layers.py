"""Finding the slide layer and the visible region; result layers made once per slide, in µm.

Adding a Labels layer costs napari 100-200 ms on the GUI thread and removing
one more, so result layers are created once per slide and later runs swap
their data, scale and colours in place. Every layer of a slide is in µm: a
slide whose file states no µm/px is given the one its run used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from napari_histoseg._reader import RESULT_KEY, result_layer_data

PAIRED_ROLE = "ck56"
#: Metadata key naming the slide (path) a result layer belongs to.
RESULT_SLIDE_KEY = "histoseg_result_of"
#: Metadata key holding the class colours a result layer shows.
COLOURS_KEY = "histoseg_class_colors"


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


def displayed_px(layer) -> int:
    """Pixels of ``layer``'s displayed level that are on screen (about the canvas's, or fewer)."""
    corners = np.asarray(layer.corner_pixels, dtype=float)[:, :2]
    height, width = corners[1] - corners[0] + 1
    return int(max(height, 0) * max(width, 0))


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


@dataclass
class ResultLayerData:
    """One result layer as napari's ``(data, kwargs, kind)``, and ``layer``, the napari layer
    made from it in advance (on a worker) where the viewer has none of that kind yet."""

    data: list
    kwargs: dict
    kind: str
    layer: object | None = None


def result_kinds_shown(viewer, slide_path: str) -> frozenset[str]:
    """The kinds ("labels", "image") of the result layers ``viewer`` shows for ``slide_path``."""
    return frozenset(layer._type_string for layer in viewer.layers
                     if layer.metadata.get(RESULT_SLIDE_KEY) == slide_path
                     and RESULT_KEY in layer.metadata)


def build_result_layers(view, slide_path: str,
                        shown: frozenset[str] = frozenset()) -> list[ResultLayerData]:
    """The result layers for ``view`` (an ``io.display_cache.ResultView``), mask last.

    Building a layer model touches no Qt but holds the GIL for 100-200 ms, so a
    worker thread calls this, and only for kinds not ``shown`` already (later
    runs re-point those layers, see :func:`show_results`).
    """
    from napari.layers import Layer

    built = []
    for data, kwargs, kind in result_layer_data(view.store, view.probability_levels is not None,
                                                view=view):
        kwargs["metadata"].update({RESULT_SLIDE_KEY: slide_path,
                                   COLOURS_KEY: tuple(view.store.spec.class_colors)})
        layer = None if kind in shown else Layer.create(data, kwargs, kind)
        built.append(ResultLayerData(data, kwargs, kind, layer))
    return built


def show_results(viewer, view, slide_path: str, built: list[ResultLayerData],
                 then: Callable[[], None] | None = None) -> list:
    """The result layers of ``slide_path`` showing ``view``; created only the first time.

    Args:
        view: an ``io.display_cache.ResultView`` (its levels are what the layers show).
        built: from :func:`build_result_layers` (on a worker); its layers are added where
            the viewer has no result layer of that kind for this slide.
        then: called on the GUI thread once new layers are complete (their painting
            overlays come in later turns of the event loop, see :func:`_hold_overlays`).
    Returns the layers, mask last. A probability layer not wanted this run is hidden.
    """
    from napari.layers import Layer

    layers, later = [], []
    for item in built:
        existing = _result_layer(viewer, slide_path, str(view.store.path), item.kind)
        if existing is None:
            new = item.layer or Layer.create(item.data, item.kwargs, item.kind)
            layers.append(_add_keeping_selection(viewer, new, later))
        else:
            _swap(existing, item)
            layers.append(existing)
    if view.probability_levels is None:
        unwanted = _result_layer(viewer, slide_path, str(view.store.path), "image")
        if unwanted is not None:
            unwanted.visible = False
    in_later_turns(later + ([then] if then is not None else []))
    return layers


def _result_layer(viewer, slide_path: str, store_path: str, kind: str):
    """The existing result layer of that slide (or store) and kind ("labels", "image")."""
    for layer in viewer.layers:
        meta = layer.metadata
        ours = meta.get(RESULT_SLIDE_KEY) == slide_path or meta.get(RESULT_KEY) == store_path
        if ours and RESULT_KEY in meta and layer._type_string == kind:
            return layer
    return None


def _swap(layer, new: ResultLayerData) -> None:
    """Point an existing result layer at ``new``'s levels, placement and colours.

    Each change makes napari re-slice the layer, so only what differs is set;
    levels that are the same objects (a reused display cache) are just refreshed.
    """
    metadata, scale, translate = (new.kwargs[key] for key in ("metadata", "scale", "translate"))
    same_levels = len(layer.data) == len(new.data) and all(
        mine is theirs for mine, theirs in zip(layer.data, new.data))
    changed = not same_levels or layer.metadata.get(COLOURS_KEY) != metadata.get(COLOURS_KEY)
    layer.metadata.update(metadata)
    if tuple(layer.scale) != tuple(scale):
        layer.scale = scale
    if tuple(layer.translate) != tuple(translate):
        layer.translate = translate
    if layer._type_string == "labels" and changed:
        layer.colormap = new.kwargs["colormap"]
    if not same_levels:
        layer.data = new.data
    if layer.visible:
        layer.refresh()
    else:
        layer.visible = True


def _add_keeping_selection(viewer, layer, later: list):
    """Add ``layer`` without making it the active one (napari's default).

    Activating a new Labels layer builds its controls on the GUI thread; during
    a run the user keeps working with the slide layer. Steps that put the
    layer's painting overlays back are appended to ``later``.
    """
    layers = viewer.layers
    activate = getattr(layers, "_activate_on_insert", None)
    if activate is not None:
        layers._activate_on_insert = False
    held = _hold_overlays(layer)
    try:
        return viewer.add_layer(layer)
    finally:
        if activate is not None:
            layers._activate_on_insert = activate
        later.extend(partial(layer._overlays.__setitem__, name, overlay) for name, overlay in held)


#: A Labels layer's painting overlays; napari builds their vispy visuals (about 50 ms on
#: the GUI thread) when they join a layer in the viewer.
PAINTING_OVERLAYS = ("polygon", "brush_stroke")
#: Pause between steps run in separate turns (ms): longer than a 10 ms timer's period,
#: so that timers, input and repaints due in between run before the next step.
TURN_GAP_MS = 20


def _hold_overlays(layer) -> list:
    """Take ``layer``'s painting overlays out, so that adding it builds only what is drawn.

    Returns (name, overlay) pairs to put back; none where napari keeps no such
    overlays (other layer types or napari versions).
    """
    overlays = getattr(layer, "_overlays", None)
    if overlays is None:
        return []
    return [(name, overlays.pop(name)) for name in PAINTING_OVERLAYS if name in overlays]


def in_later_turns(steps: list[Callable[[], None]]) -> None:
    """Run ``steps`` on the GUI thread one per turn of the event loop, in order."""
    from qtpy.QtCore import QTimer

    if steps:
        def step() -> None:
            try:
                steps[0]()
            finally:
                in_later_turns(steps[1:])

        QTimer.singleShot(TURN_GAP_MS, step)
