"""npe2 reader: a dropped slide becomes one multiscale RGB image in µm."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from napari_histoseg.io.errors import SlideError
from napari_histoseg.io.slide import Slide, open_slide

SLIDE_SUFFIXES = (".svs", ".ndpi", ".tif", ".tiff", ".mrxs", ".scn", ".bif", ".dcm")

LayerData = tuple[Any, dict, str]


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
    return lambda _path: [slide_layer_data(slide)]


def slide_layer_data(slide: Slide, name: str | None = None) -> LayerData:
    """The slide as a napari multiscale RGB image layer with world units in µm."""
    metadata = {"slide_path": str(slide.path), "mpp": slide.mpp, "vendor": slide.vendor}
    kwargs = {
        "name": name or slide.path.name,
        "rgb": True,
        "multiscale": True,
        "contrast_limits": (0, 255),
        "metadata": metadata,
    }
    if slide.mpp is not None:
        kwargs["scale"] = slide.mpp
        kwargs["units"] = ("µm", "µm")
    return (list(slide.levels), kwargs, "image")


def _warn(message: str) -> None:
    from napari.utils.notifications import show_warning

    show_warning(message)
