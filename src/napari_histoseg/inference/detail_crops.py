"""The fusion network's 40x detail crops at inference: where (key region) and how (a finer read).

Fusion paper §III-A: the H&E target branch runs at 10x; the key region of each tile
is found by a sliding-window peak search and read again ``zoom`` times finer for
the detail branch. Here the peak search is ``explain.key_regions.find_key_regions``
(numpy) on the model's own tumour probability (1 - P(background)) from a first
pass over the tile's core (the part of the tile that dominates the blended result),
with the window and zoom the checkpoint was trained with (its card's
``detail_crops``). The crop is read from the slide's pyramid level that is
``zoom`` times finer than the analysis grid (``Slide.read_region``), never upsampled
from the tile; a slide with no level that fine is read at level 0 and ``notice``
says the zoom is limited.

>>> crops = DetailCrops(he_slide, grid, DetailSpec(window=32, zoom=4))   # doctest: +SKIP
>>> box = crops.box(tumour)              # (y0, x0, y1, x1) in tile px
>>> pixels = crops.read(indices, boxes)  # (B, S, S, 3) uint8, S = crops.read_size
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_histoseg.explain.key_regions import find_key_regions
from napari_histoseg.geometry import TileGrid
from napari_histoseg.stain import apply_lut

#: Side of the key region (px at the analysis resolution) of the bundled fusion checkpoint.
DETAIL_WINDOW = 32


def detail_box(tumour: np.ndarray, window: int = DETAIL_WINDOW,
               origin: tuple[int, int] = (0, 0)) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1) px of the ``window``-side key region of an (h, w) tumour map in [0, 1].

    The best window of ``find_key_regions`` (stride ``window // 4``), shifted by
    ``origin``; the centred window when the map holds no tumour.
    """
    regions = find_key_regions(tumour, window=window, stride=max(window // 4, 1), max_regions=1)
    h, w = tumour.shape
    if regions:
        y0, x0, y1, x1 = (int(round(v)) for v in regions[0].box)
    else:
        y0, x0 = max((h - window) // 2, 0), max((w - window) // 2, 0)
        y1, x1 = min(y0 + window, h), min(x0 + window, w)
    return y0 + origin[0], x0 + origin[1], y1 + origin[0], x1 + origin[1]


@dataclass(frozen=True)
class DetailSpec:
    """How a checkpoint was trained to use detail crops.

    Attributes:
        window: side of the key region, px at the analysis resolution.
        zoom: detail px per analysis px (40x over 10x = 4; the network's ``detail_zoom``).
    """

    window: int
    zoom: int

    def __post_init__(self):
        if self.window < 4 or self.zoom not in (1, 2, 4, 8):
            raise ValueError(f"detail crops need a window of at least 4 px and a zoom of 1, 2, 4 "
                             f"or 8; got window {self.window}, zoom {self.zoom}")

    @classmethod
    def from_card(cls, card: dict | None) -> DetailSpec | None:
        """The spec in a model card's ``detail_crops``, or None for a checkpoint trained without."""
        entry = (card or {}).get("detail_crops")
        return None if not entry else cls(int(entry["window"]), int(entry["zoom"]))


class DetailCrops:
    """Chooses and reads the detail crop of grid tiles of ``slide`` (the H&E; a paired slide's
    ``he`` is used, so crops are H&E only)."""

    def __init__(self, slide, grid: TileGrid, spec: DetailSpec, colour_lut: np.ndarray | None = None):
        self.slide = getattr(slide, "he", slide)
        self.grid, self.colour_lut = grid, colour_lut
        self.window = min(spec.window, grid.stride)
        self.out_size = self.window * spec.zoom
        wanted = grid.downsample / spec.zoom            # level-0 px per detail px
        self.level = self.slide.best_level_for_downsample(wanted)
        level_downsample = float(self.slide.downsamples[self.level])
        self.read_size = max(int(round(self.out_size * wanted / level_downsample)), 1)
        self.zoom = spec.zoom if wanted >= level_downsample * 0.999 else grid.downsample / level_downsample
        self.notice = "" if self.zoom == spec.zoom else self._limited_notice(spec.zoom)

    def _limited_notice(self, zoom: int) -> str:
        mpp = self.slide.mpp[0] if self.slide.mpp else None
        where = f" ({mpp:g} µm/px)" if mpp else ""
        return (f"{self.slide.path.name}: detail crops want {zoom}x the analysis resolution, but "
                f"the slide's finest level{where} is only {self.zoom:.2g}x finer; they are read "
                "at level 0 and enlarged, so the detail branch sees less detail than in training")

    def box(self, tumour: np.ndarray) -> tuple[int, int, int, int]:
        """(y0, x0, y1, x1) tile px of the key region: the best ``window`` of (tile_size,
        tile_size) ``tumour`` probability inside the tile's core; the core's centre if none."""
        halo, stride = self.grid.halo, self.grid.stride
        core = np.asarray(tumour, np.float32)[halo:halo + stride, halo:halo + stride]
        return detail_box(core, self.window, origin=(halo, halo))

    def read(self, indices: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
        """(B, read_size, read_size, 3) uint8 H&E of each tile's ``box`` at the detail level."""
        cols, d = self.grid.grid_shape[1], self.grid.downsample
        scale = d / self.slide.downsamples[self.level]
        out = np.empty((len(indices), self.read_size, self.read_size, 3), np.uint8)
        for i, (index, (y0, x0, _, _)) in enumerate(zip(indices, boxes)):
            (wy, wx), _ = self.grid.window(*divmod(int(index), cols))
            location = (int(round((wy + y0) * scale)), int(round((wx + x0) * scale)))
            out[i] = self.slide.read_region(self.level, location, (self.read_size, self.read_size))[..., :3]
        return apply_lut(out, self.colour_lut) if self.colour_lut is not None else out
