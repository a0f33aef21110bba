"""Which model runs when the user has not chosen one, and when to doubt its answer.

A model the user adopted in the model library comes first. Otherwise slides
written by the project's synthetic generator (TIFF Software tag "napari-histoseg
synthetic") get the synthetic demo model, and every other slide gets the
real-tissue starter model. ``applicability_warnings`` says, once and plainly,
when a slide's µm/px or stain colours lie far from what the model was trained on
(its checkpoint's ``input_mpp`` and ``card["stain_range"]``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_histoseg.stain import REFERENCE_STD, StainStats

SYNTHETIC_SOFTWARE = "napari-histoseg synthetic"
#: A slide whose finest µm/px is this many times coarser than the model's is upsampled too far.
MPP_TOLERANCE = 1.5
#: How far (in reference L*a*b* standard deviations) outside the training stain range is "far".
STAIN_MARGIN = 1.0


def is_synthetic(slide) -> bool:
    """True for slides written by ``io.synthetic``."""
    return slide.properties.get("Software") == SYNTHETIC_SOFTWARE


def default_model(slide, library=None) -> Path:
    """The adopted model, else the shipped one for ``slide`` (synthetic demo or real-tissue)."""
    from napari_histoseg.models.catalog import BUNDLED_CHECKPOINT, REAL_TISSUE_CHECKPOINT
    from napari_histoseg.models.library import ModelLibrary

    adopted = (library or ModelLibrary()).active("hinet")
    if adopted is not None:
        return adopted.path
    return BUNDLED_CHECKPOINT if is_synthetic(slide) else REAL_TISSUE_CHECKPOINT


def incumbent_model(slide_path: str | Path | None, library=None) -> Path:
    """The model a retrained one must beat: ``default_model`` of the slide at ``slide_path``,
    or, with no slide, the adopted model, else the real-tissue starter model."""
    from napari_histoseg.io.slide import open_slide
    from napari_histoseg.models.catalog import REAL_TISSUE_CHECKPOINT
    from napari_histoseg.models.library import ModelLibrary

    library = library or ModelLibrary()
    if slide_path is not None:
        return default_model(open_slide(slide_path), library)
    adopted = library.active("hinet")
    return adopted.path if adopted is not None else REAL_TISSUE_CHECKPOINT


def applicability_warnings(slide_mpp: float | None, input_mpp: float | None,
                           slide_stain: StainStats | None, card: dict) -> list[str]:
    """Plain sentences for each way the slide lies outside the model's training data."""
    warnings = []
    if slide_mpp and input_mpp and slide_mpp > input_mpp * MPP_TOLERANCE:
        warnings.append(
            f"the slide's finest resolution ({slide_mpp:.2f} µm/px) is coarser than the model's "
            f"({input_mpp:.2f} µm/px): tiles are enlarged {slide_mpp / input_mpp:.1f}x and the mask "
            "will be less reliable")
    stain_range = card.get("stain_range")
    if slide_stain is not None and stain_range:
        low = np.asarray(stain_range["mean_min"]) - STAIN_MARGIN * np.asarray(REFERENCE_STD)
        high = np.asarray(stain_range["mean_max"]) + STAIN_MARGIN * np.asarray(REFERENCE_STD)
        mean = np.asarray(slide_stain.mean)
        if np.any(mean < low) or np.any(mean > high):
            warnings.append(
                "the slide's stain colours (L*a*b* mean "
                f"{', '.join(f'{v:.0f}' for v in mean)}) lie outside those the model was trained on; "
                "check the mask carefully or fine-tune on corrections from this slide")
    return warnings
