"""generate_pair: the H&E, the CK5/6, the labels and the tumour mask, written to disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from napari_histoseg.io.errors import FileError
from napari_histoseg.io.safe_paths import inside
from napari_histoseg.io.synthetic import regions as R
from napari_histoseg.io.synthetic.config import SynthConfig, SyntheticPair
from napari_histoseg.io.synthetic.layout import Layout, make_layout
from napari_histoseg.io.synthetic.render import SectionRenderer
from napari_histoseg.io.synthetic.warp import random_affine, warped_rgb
from napari_histoseg.io.synthetic.writer import write_pyramid

FILE_NAMES = {"he": "he.tif", "ck56": "ck56.tif", "labels": "labels.tif",
              "tumour": "tumour.tif", "sidecar": "pair.json"}
#: zlib level of the label pyramids (lossless).
LABEL_ZLIB_LEVEL = 6


def generate_pair(out_dir: str | Path, config: SynthConfig, workers: int | None = None) -> SyntheticPair:
    """Write a synthetic pair into ``out_dir`` and return its paths and affine.

    Files: he.tif, ck56.tif (JPEG-tiled RGB pyramids), labels.tif (0 normal/background,
    1 in situ, 2 invasive), tumour.tif (labels > 0), and pair.json (config and affine).
    The same config gives the same bytes.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    layout = make_layout(config)
    affine = random_affine(config)
    pair = SyntheticPair(he_path=out_dir / FILE_NAMES["he"], ck56_path=out_dir / FILE_NAMES["ck56"],
                         labels_path=out_dir / FILE_NAMES["labels"],
                         tumour_path=out_dir / FILE_NAMES["tumour"], affine=affine, config=config)
    shapes, jpeg = config.level_shapes(), ("jpeg", config.jpeg_quality)
    he = SectionRenderer(layout, config, "he")
    write_pyramid(pair.he_path, shapes, he.rgb, config.mpp, config.tile_size, True, jpeg, workers,
                  downsample=True)
    ck56 = SectionRenderer(layout, config, "ck56")
    write_pyramid(pair.ck56_path, shapes, lambda level, location, size: warped_rgb(
        ck56, affine, level, location, size), config.mpp, config.tile_size, True, jpeg, workers,
                  downsample=True)
    lossless = ("zlib", LABEL_ZLIB_LEVEL)
    write_pyramid(pair.labels_path, shapes, _label_tiles(layout, he, tumour=False),
                  config.mpp, config.tile_size, False, lossless, workers)
    write_pyramid(pair.tumour_path, shapes, _label_tiles(layout, he, tumour=True),
                  config.mpp, config.tile_size, False, lossless, workers)
    write_sidecar(pair, out_dir / FILE_NAMES["sidecar"])
    return pair


def _label_tiles(layout: Layout, section: SectionRenderer, tumour: bool):
    """A tile function giving labels (0/1/2), or 0/1 tumour, at pixel centres."""
    lookup = (R.LABEL_OF_REGION > 0).astype(np.uint8) if tumour else R.LABEL_OF_REGION

    def render(level: int, location: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
        codes, _ = R.region_grid(layout, *section.grid_um(level, location, size))
        return np.take(lookup, codes)

    return render


def write_sidecar(pair: SyntheticPair, path: Path) -> Path:
    """pair.json: the config, the file names and the affine (H&E -> CK5/6, level-0 (y, x, 1))."""
    record = {"config": pair.config.as_dict(), "affine": pair.affine.tolist(),
              "affine_maps": "H&E level-0 (y, x, 1) -> CK5/6 level-0 (y, x, 1)",
              "files": {key: name for key, name in FILE_NAMES.items() if key != "sidecar"}}
    path.write_text(json.dumps(record, indent=2))
    return path


def read_pair(out_dir: str | Path) -> SyntheticPair:
    """The SyntheticPair that generate_pair wrote into ``out_dir`` (from pair.json)."""
    out_dir = Path(out_dir)
    sidecar = out_dir / FILE_NAMES["sidecar"]
    if not sidecar.is_file():
        raise FileNotFoundError(f"{sidecar}: no synthetic pair here; run `histoseg synth {out_dir}`")
    try:
        record = json.loads(sidecar.read_text())
        fields = dict(record["config"])
        fields["size"] = tuple(fields["size"])
        files = record["files"]
        paths = {key: inside(out_dir, files.get(key), f"files.{key}", sidecar)
                 for key in ("he", "ck56", "labels", "tumour")}
        return SyntheticPair(he_path=paths["he"], ck56_path=paths["ck56"],
                             labels_path=paths["labels"], tumour_path=paths["tumour"],
                             affine=np.array(record["affine"]), config=SynthConfig(**fields))
    except FileError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise FileError(sidecar, f"not a valid synthetic-pair sidecar ({type(err).__name__}: "
                                 f"{err}); generate the pair again with `histoseg synth`") from err
