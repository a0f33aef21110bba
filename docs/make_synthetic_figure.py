"""Make docs/synthetic_pair.png: a synthetic H&E, its CK5/6 and the ground truth, side by side.

Top row: the whole 1 x 1 mm slide (level 1). Bottom row: a level-0 field around an
in-situ duct and invasive nests. The CK5/6 is shown resampled into the H&E frame
through the recorded affine, so the three panels of a row line up.

Run:  .venv/bin/python docs/make_synthetic_figure.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from napari_histoseg.io.labels import open_label_pyramid
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.synthetic import SynthConfig, generate_pair

CONFIG = SynthConfig(size=(2048, 2048), mpp=0.5, seed=3)
LABEL_RGB = np.array([[255, 255, 255], [44, 160, 44], [214, 39, 40]], dtype=np.uint8)
FIELD = 768
OUT = Path(__file__).with_name("synthetic_pair.png")


def ck56_in_he_frame(ck56: np.ndarray, affine: np.ndarray, level: int) -> np.ndarray:
    """CK5/6 level ``level`` resampled (nearest) onto the H&E grid of the same level."""
    factor = 2**level
    yy, xx = np.mgrid[: ck56.shape[0], : ck56.shape[1]] * factor + 0.5 * factor - 0.5
    src_y = (affine[0, 0] * yy + affine[0, 1] * xx + affine[0, 2] + 0.5) / factor - 0.5
    src_x = (affine[1, 0] * yy + affine[1, 1] * xx + affine[1, 2] + 0.5) / factor - 0.5
    iy = np.clip(np.rint(src_y).astype(int), 0, ck56.shape[0] - 1)
    ix = np.clip(np.rint(src_x).astype(int), 0, ck56.shape[1] - 1)
    return ck56[iy, ix]


def row(level: int, pair, box: tuple[slice, slice]) -> list[np.ndarray]:
    he = open_slide(pair.he_path).levels[level].compute()
    ck56 = ck56_in_he_frame(open_slide(pair.ck56_path).levels[level].compute(), pair.affine, level)
    labels = open_label_pyramid(pair.labels_path)[level].compute()
    return [he[box], ck56[box], LABEL_RGB[labels[box]]]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        pair = generate_pair(folder, CONFIG)
        labels = open_label_pyramid(pair.labels_path)[0].compute()
        cy, cx = (int(c) for c in ndimage.center_of_mass(labels == 1))
        y0 = int(np.clip(cy - FIELD // 2 + 120, 0, CONFIG.size[0] - FIELD))
        x0 = int(np.clip(cx - FIELD // 2 - 120, 0, CONFIG.size[1] - FIELD))
        whole = row(1, pair, (slice(None), slice(None)))
        field = row(0, pair, (slice(y0, y0 + FIELD), slice(x0, x0 + FIELD)))
    gap = 12
    side = max(whole[0].shape[0], FIELD)
    canvas = Image.new("RGB", (3 * side + 4 * gap, 2 * side + 3 * gap + 60), "white")
    titles = ("H&E (synthetic)", "CK5/6, registered by the recorded affine",
              "truth: green in situ, red invasive")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=26)
    for column, title in enumerate(titles):
        draw.text((gap + column * (side + gap), 6), title, fill="black", font=font)
    for r, panels in enumerate((whole, field)):
        for column, panel in enumerate(panels):
            canvas.paste(Image.fromarray(np.ascontiguousarray(panel)),
                         (gap + column * (side + gap), 40 + r * (side + gap)))
    draw.text((gap, 2 * side + 2 * gap + 40),
              f"top: whole 1 x 1 mm slide (level 1, 1 µm/px); bottom: {FIELD} px field at "
              f"0.5 µm/px around the in-situ duct; "
              f"seed {CONFIG.seed}", fill="black", font=font)
    canvas.save(OUT)
    print(OUT)


if __name__ == "__main__":
    main()
