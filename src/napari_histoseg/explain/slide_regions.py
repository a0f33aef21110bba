"""Key regions of a whole slide, from its heatmap and tumour-probability pyramids (numpy).

The window is ``window`` px at the analysis resolution (results level 0). A
whole slide's level 0 can be tens of thousands of pixels a side, so the search
runs on the finest pyramid level whose longer side fits ``max_side`` px, with
the window scaled to that level (``window / 2**k``); the boxes are mapped back
to level-0 slide px by that level's downsample.
"""

from __future__ import annotations

import numpy as np

from napari_histoseg.explain.key_regions import KeyRegion, find_key_regions
from napari_histoseg.io.blend import dequantise
from napari_histoseg.io.results import ResultStore

#: Longest side (px) of the pyramid level searched for key regions.
MAX_SIDE = 4096
#: Regions scoring below this fraction of the best region's score are not listed.
MIN_RELATIVE = 0.1
#: Smallest window side (px) at the searched level.
MIN_WINDOW = 8


def search_level(shapes: list[tuple[int, int]], window: int, max_side: int = MAX_SIDE) -> int:
    """The finest level whose longer side fits ``max_side`` (or the window gets too small)."""
    for level, shape in enumerate(shapes):
        if max(shape) <= max_side or window >> (level + 1) < MIN_WINDOW:
            return level
    return len(shapes) - 1


def slide_key_regions(heatmap: ResultStore, results: ResultStore | None, target_class: int, *,
                      window: int = 128, max_regions: int = 10,
                      max_side: int = MAX_SIDE,
                      min_relative: float = MIN_RELATIVE) -> list[KeyRegion]:
    """Ranked key regions of the slide, boxes in level-0 slide px.

    Args:
        heatmap: the heatmap store (one channel in [0, 1]).
        results: the segmentation store on the same grid, whose ``target_class``
            probability multiplies each window's heat; None for heat alone.
        window: window side at the analysis resolution, px.
        min_relative: regions scoring less than this fraction of the best are left out.
    """
    levels = heatmap.probability_levels()
    level = search_level([tuple(a.shape[1:]) for a in levels], window, max_side)
    heat = dequantise(levels[level][0])
    tumour = None
    if results is not None:
        if results.spec.grid != heatmap.spec.grid:
            raise ValueError("the heatmap and the segmentation lie on different grids; "
                             "compute the heatmap again")
        tumour = dequantise(results.probability_levels()[level][target_class])
    scaled = max(1, window >> level)
    regions = find_key_regions(heat, tumour, window=scaled, stride=_stride(scaled),
                               max_regions=max_regions,
                               downsample=heatmap.spec.grid.downsample * 2**level)
    return [r for r in regions if r.score >= min_relative * regions[0].score] if regions else []


def _stride(window: int) -> int:
    """The largest divisor of ``window`` that is at most a quarter of it (1 at least)."""
    return max(d for d in range(1, max(1, window // 4) + 1) if window % d == 0)

