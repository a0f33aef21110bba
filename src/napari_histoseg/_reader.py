"""npe2 reader: a dropped slide becomes one multiscale RGB image in µm."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import numpy as np

from napari_histoseg.io.errors import SlideError
from napari_histoseg.io.slide import Slide, open_slide

SLIDE_SUFFIXES = (".svs", ".ndpi", ".tif", ".tiff", ".mrxs", ".scn", ".bif", ".dcm")

LayerData = tuple[Any, dict, str]
#: Metadata key marking a layer as showing the results stored at its value (a path).
RESULT_KEY = "histoseg_result"
TRANSPARENT = (0.0, 0.0, 0.0, 0.0)


def get_reader(path: str | list[str]) -> Callable[[str], list[LayerData]] | None:
    """Return a reader for a slide file, or None for anything else.

    Probing never raises. A file with a slide suffix that fails to open is
    reported in a napari warning that names the file and the cause, and None
    is returned so that other readers may try.
    """
    if isinstance(path, list) or not str(path).lower().endswith(SLIDE_SUFFIXES):
        return None
    try:
        slide = open_slide(path)
    except SlideError as err:
        _warn(str(err))
        return None
    except Exception as err:  # noqa: BLE001 - probing must never raise
        _warn(f"{path}: could not be opened ({type(err).__name__}: {err})")
        return None
    return lambda _path: slide_and_result_layer_data(slide)


def slide_and_result_layer_data(slide: Slide) -> list[LayerData]:
    """The slide and the results of an earlier run, all in the same µm.

    A slide whose file states no µm/px takes the one its results were made with.
    """
    results = saved_result_layer_data(slide)
    used = next((kwargs["metadata"].get("slide_mpp") for _, kwargs, _ in results), None)
    return [slide_layer_data(slide, mpp=used), *results]


def slide_layer_data(slide: Slide, name: str | None = None,
                     mpp: tuple[float, float] | None = None) -> LayerData:
    """The slide as a napari multiscale RGB image layer with world units in µm.

    ``mpp`` (y, x) places a slide whose file states no µm/px; without either the
    layer is in pixels until a run supplies one.
    """
    metadata = {"slide_path": str(slide.path), "mpp": slide.mpp, "vendor": slide.vendor,
                "mpp_problem": slide.mpp_reading.problem,
                "objective_power": slide.objective_power}
    kwargs = {
        "name": name or slide.path.name,
        "rgb": True,
        "multiscale": True,
        "contrast_limits": (0, 255),
        "metadata": metadata,
    }
    scale = slide.mpp or (tuple(mpp) if mpp is not None else None)
    if slide.mpp is None and mpp is not None:
        metadata["mpp_used"] = tuple(mpp)
    if scale is not None:
        kwargs["scale"] = scale
        kwargs["units"] = ("µm", "µm")
    return (list(slide.levels), kwargs, "image")


def saved_result_layer_data(slide: Slide) -> list[LayerData]:
    """The mask of an earlier run in the slide's workspace, if there is one.

    Damaged results, or results of another slide, never stop the slide from
    opening: a warning says so and how to recompute them.
    """
    from napari_histoseg.io.workspace import Workspace, WorkspaceError

    try:
        workspace = Workspace.find(slide.path)
        store = workspace.results() if workspace is not None else None
        return result_layer_data(store) if store is not None else []
    except Exception as err:  # noqa: BLE001 - a damaged workspace never stops the slide
        problem = str(err) if isinstance(err, (WorkspaceError, OSError)) else (
            f"{slide.path}: its saved results cannot be shown ({type(err).__name__}: {err})")
        _warn(f"{problem}. The slide opened without them; segment again with 'Start over' "
              "(or `histoseg segment --restart`) to recompute them.")
        return []


def result_layer_data(store, show_probability: bool = False, view=None) -> list[LayerData]:
    """A result store's mask (and optionally tumour probability) as multiscale layers in µm.

    Both read the store's zarr pyramids, so they fill in as tiles are written
    once the layers are refreshed; ``view`` (an ``io.display_cache.ResultView``)
    supplies chunk-cached levels instead, for layers refreshed during a run.
    """
    placement = {"scale": store.scale, "translate": store.translate, "units": ("µm", "µm"),
                 "multiscale": True,
                 "metadata": {RESULT_KEY: str(store.path), "slide_mpp": store.spec.slide_mpp}}
    layers = []
    if show_probability:
        layers.append((_tumour_probability_levels(store),
                       {**placement, "name": "Tumour probability", "rgb": True,
                        "contrast_limits": (0, 255), "opacity": 0.6}, "image"))
    colours = {None: TRANSPARENT, 0: TRANSPARENT, store.NOT_COMPUTED: TRANSPARENT}
    colours.update({index: colour for index, colour in enumerate(store.spec.class_colors)
                    if index > 0})
    layers.append((view.mask_levels if view is not None else list(store.mask_levels()),
                   {**placement, "name": "Tumour mask", "opacity": 0.5, "colormap": colours},
                   "labels"))
    return layers


def _tumour_probability_levels(store) -> list:
    """Lazy (h, w, 4) uint8 RGBA per level: the probability of every non-background class
    together in the inferno colormap, fully transparent where nothing was computed."""
    import dask.array as da

    levels = []
    for level in store.probability_levels():
        background = da.from_zarr(level)[0]
        levels.append(background.map_blocks(_inferno_rgba, dtype=np.uint8, new_axis=2,
                                            chunks=(*background.chunks, (4,))))
    return levels


def _inferno_rgba(background: np.ndarray) -> np.ndarray:
    """(h, w) stored background probability (uint8, 255 = not computed) -> (h, w, 4) RGBA
    of 1 - background."""
    return _stored_background_lut()[background]


@functools.lru_cache(maxsize=1)
def _stored_background_lut() -> np.ndarray:
    """(256, 4) uint8 RGBA for each stored background value; not computed is transparent."""
    from napari_histoseg.io.blend import NOT_COMPUTED, dequantise

    tumour = 1 - dequantise(np.arange(256, dtype=np.uint8))
    index = np.clip(np.nan_to_num(tumour) * 255 + 0.5, 0, 255).astype(np.uint8)
    lut = _inferno_lut()[index]
    lut[NOT_COMPUTED] = 0
    return lut


@functools.lru_cache(maxsize=1)
def _inferno_lut() -> np.ndarray:
    """(256, 4) uint8 RGBA of napari's inferno colormap."""
    from napari.utils.colormaps import ensure_colormap

    colours = ensure_colormap("inferno").map(np.linspace(0, 1, 256))
    return (np.asarray(colours) * 255).round().astype(np.uint8)


def _warn(message: str) -> None:
    from napari.utils.notifications import show_warning

    show_warning(message)
