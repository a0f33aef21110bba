"""npe2 sample data: a synthetic H&E + CK5/6 pair and an H&E with its ground truth.

The pair is generated once (a few seconds) into ``$HISTOSEG_CACHE`` or
``~/.cache/napari-histoseg`` and reused. Layers are in µm: ``scale`` is the level-0
mpp, and the CK5/6 layer carries the affine that lays it onto the H&E.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from napari_histoseg._reader import LayerData
from napari_histoseg.io.synthetic.config import SynthConfig, SyntheticPair

#: The demo pair: 2 x 2 mm at 0.5 µm/px.
SAMPLE_CONFIG = SynthConfig(size=(4096, 4096), mpp=0.5, seed=7)
LABEL_COLORS = {0: "transparent", 1: "#2ca02c", 2: "#d62728"}


def cache_dir() -> Path:
    """``$HISTOSEG_CACHE`` if set, else ``~/.cache/napari-histoseg``."""
    return Path(os.environ.get("HISTOSEG_CACHE") or Path.home() / ".cache" / "napari-histoseg")


def sample_pair(config: SynthConfig = SAMPLE_CONFIG, folder: Path | None = None) -> SyntheticPair:
    """The cached synthetic pair of ``config``, generated on first use.

    Generation writes into a temporary sibling folder that is renamed when complete,
    so an interrupted run never leaves a half-written sample behind.
    """
    from napari_histoseg.io.synthetic.pair import generate_pair, read_pair

    root = folder or cache_dir()
    target = root / f"synthetic-{config.size[0]}x{config.size[1]}-mpp{config.mpp}-seed{config.seed}"
    if (target / "pair.json").is_file():
        return read_pair(target)
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".synthetic-", dir=root))
    try:
        generate_pair(scratch, config)
        try:
            scratch.rename(target)
        except OSError:                 # another process finished first: use theirs
            pass
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return read_pair(target)


def paired_sample(pair: SyntheticPair | None = None) -> list[LayerData]:
    """The H&E and its CK5/6 serial section, aligned in world µm by the CK5/6 layer's affine."""
    pair = pair or sample_pair()
    he = _image_layer(pair.he_path, "synthetic H&E", pair.config.mpp)
    ck56 = _image_layer(pair.ck56_path, "synthetic CK5/6", pair.config.mpp)
    ck56[1]["affine"] = ck56_world_affine(pair.affine, pair.config.mpp)
    ck56[1]["opacity"] = 0.5
    return [he, ck56]


def he_with_truth(pair: SyntheticPair | None = None) -> list[LayerData]:
    """The H&E and its ground truth (1 carcinoma in situ, 2 invasive) as multiscale Labels."""
    from napari_histoseg.io.labels import open_label_pyramid

    pair = pair or sample_pair()
    mpp = pair.config.mpp
    truth = (list(open_label_pyramid(pair.labels_path)),
             {"name": "ground truth", "multiscale": True, "scale": (mpp, mpp), "opacity": 0.5,
              "units": ("µm", "µm"), "colormap": LABEL_COLORS,
              "metadata": {"classes": ("normal", "in situ", "invasive"),
                           "labels_path": str(pair.labels_path)}},
             "labels")
    return [_image_layer(pair.he_path, "synthetic H&E", mpp), truth]


def ck56_world_affine(affine: np.ndarray, mpp: float) -> np.ndarray:
    """(3, 3) world (µm) affine that puts CK5/6 data, already scaled by mpp, onto the H&E.

    A CK5/6 level-0 point p lies on H&E point A⁻¹ p; in µm that is S A⁻¹ S⁻¹ (S p).
    """
    scale = np.diag([mpp, mpp, 1.0])
    return scale @ np.linalg.inv(affine) @ np.linalg.inv(scale)


def _image_layer(path: Path, name: str, mpp: float) -> LayerData:
    from napari_histoseg.io.slide import open_slide

    slide = open_slide(path)
    return (list(slide.levels),
            {"name": name, "rgb": True, "multiscale": True, "contrast_limits": (0, 255),
             "scale": (mpp, mpp), "units": ("µm", "µm"),
             "metadata": {"slide_path": str(path), "mpp": (mpp, mpp)}},
            "image")
