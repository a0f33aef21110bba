"""Build a training dataset from sources: the HI-Net recipe (§2, §4.2), each step a parameter.

For every source image: resample to the dataset's µm/px (HI-Net downsamples 4x),
find tissue (HSV, Otsu on H and S, as for slides), normalise the stains toward
a reference (Reinhard, see ``stain``), cut patches (512² by default) and keep those whose tumour
fraction lies in a range ([5 %, 99.5 %] in the paper). Images are split 8:1:1 by
group (the source image or slide), per source, so nothing leaks between splits.
Held-out (val and test) images up to ``WHOLE_HELD_OUT_SIDE`` are kept whole, so that the
scores count each of their pixels once (overlapping patches would count some twice).

>>> params = BuildParams(mpp=1.0, patch_size=512)              # doctest: +SKIP
>>> manifest = build_dataset([PairFolder(...)], "out/", params)   # doctest: +SKIP
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from napari_histoseg.stain import StainError, StainStats, normalise
from napari_histoseg.training.dataset_format import Manifest, PatchEntry
from napari_histoseg.training.sources import IGNORE_LABEL, SourceImage

#: HI-Net §4.2 keeps patches whose tumour fraction lies in this range.
PAPER_TUMOUR_FRACTION = (0.05, 0.995)
STAIN_METHODS = ("reinhard", "none")
#: Val and test images up to this side (px, after resampling) are one patch each.
WHOLE_HELD_OUT_SIDE = 2048


@dataclass(frozen=True)
class BuildParams:
    """Dataset recipe. ``mpp``: output µm/px; ``downsample``, if set, overrides it per source
    (output µm/px = source µm/px x downsample). Patches smaller than ``patch_size`` are kept
    whole when the image itself is smaller."""

    mpp: float = 1.0
    downsample: float | None = None
    patch_size: int = 512
    stride: int | None = None
    tumour_fraction: tuple[float, float] = PAPER_TUMOUR_FRACTION
    min_tissue: float = 0.1
    stain: str = "reinhard"
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "tumour_fraction", tuple(self.tumour_fraction))
        object.__setattr__(self, "split", tuple(self.split))
        if self.stain not in STAIN_METHODS:
            raise ValueError(f"stain must be one of {STAIN_METHODS}, got {self.stain!r}")
        if not (self.mpp > 0 and self.patch_size >= 32 and len(self.split) == 3
                and abs(sum(self.split) - 1) < 1e-6 and min(self.split) >= 0):
            raise ValueError(f"need mpp > 0, patch_size >= 32 and three split shares summing "
                             f"to 1; got {self.mpp}, {self.patch_size}, {self.split}")
        low, high = self.tumour_fraction
        if not 0 <= low <= high <= 1:
            raise ValueError(f"tumour_fraction must be 0 <= low <= high <= 1, got {self.tumour_fraction}")


def build_dataset(sources: Iterable, out_dir: str | Path, params: BuildParams = BuildParams(),
                  class_names: tuple[str, ...] = ("non-tumour", "tumour"), progress=None,
                  only_splits: tuple[str, ...] | None = None) -> Manifest:
    """Cut, normalise and split every image of ``sources`` into ``out_dir``; returns the manifest.

    ``only_splits`` (e.g. ``("test",)``) writes only the images drawn into those splits: the
    same draw, so the same patches as a full build.
    """
    from PIL import Image

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    sources = list(sources)
    entries: list[PatchEntry] = []
    for source in sources:
        splits = source_splits(source, params)
        for item in source:
            if only_splits is not None and splits[item.group] not in only_splits:
                continue
            for entry, image, mask in cut_patches(item, splits[item.group], params):
                Image.fromarray(image).save(out / entry.image)
                Image.fromarray(mask).save(out / entry.mask)
                entries.append(entry)
            if progress is not None:
                progress(item)
    manifest = Manifest(mpp=params.mpp, class_names=tuple(class_names),
                        stain=_reference_stain(params), params=asdict(params),
                        sources=[_describe(s) for s in sources], patches=entries)
    write_summary_figure(manifest, out / "summary.png")
    manifest.write(out)
    return manifest


def source_splits(source, params: BuildParams) -> dict[str, str]:
    """Group -> split for one source: as stored, as pinned by its ``split``, or drawn 8:1:1."""
    if hasattr(source, "stored_splits"):
        return source.stored_splits()
    if source.split:
        return dict.fromkeys(source.groups(), source.split)
    return assign_splits(source.groups(), params.split, params.seed + zlib.crc32(source.name.encode()))


def assign_splits(groups: list[str], shares: tuple[float, float, float], seed: int) -> dict[str, str]:
    """Each distinct group -> "train", "val" or "test", shuffled with ``seed``.

    With three groups or more, val and test get at least one group each when their share is
    positive; the rest goes to train.
    """
    unique = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(unique))
    n = len(unique)
    n_val, n_test = (max(int(round(share * n)), 1 if share > 0 and n >= 3 else 0)
                     for share in shares[1:])
    names = ["test"] * n_test + ["val"] * n_val + ["train"] * (n - n_test - n_val)
    return {unique[index]: names[rank] for rank, index in enumerate(order)}


def cut_patches(item: SourceImage, split: str, params: BuildParams):
    """Yield (PatchEntry, image, mask) for the kept patches of one source image."""
    from napari_histoseg.tissue import detect_tissue

    mpp = item.mpp * params.downsample if params.downsample else params.mpp
    image, mask = resample(item.image, item.mask, item.mpp / mpp)
    tissue = detect_tissue(image)
    stats = item.stain or _stain_stats(image, tissue)
    if params.stain == "reinhard" and stats is not None:
        image = normalise(image, stats)
    low, high = params.tumour_fraction
    for y, x, h, w in _boxes(image.shape[:2], split, params):
        tumour = tumour_fraction(mask[y:y + h, x:x + w])
        tissue_share = float(tissue[y:y + h, x:x + w].mean())
        if not (low <= tumour <= high) or (tissue_share < params.min_tissue and tumour == 0):
            continue
        patch_id = f"{_safe(item.group)}_{y}_{x}"
        entry = PatchEntry(patch_id, split, item.source, item.group, f"images/{patch_id}.png",
                           f"masks/{patch_id}.png", (y, x), (h, w), tumour, tissue_share, item.weight,
                           stats.to_dict() if stats is not None else None)
        yield entry, image[y:y + h, x:x + w], mask[y:y + h, x:x + w]


def _boxes(shape: tuple[int, int], split: str, params: BuildParams) -> list[tuple[int, int, int, int]]:
    """Training patches, or the whole image for a held-out one that is not too large."""
    if split != "train" and max(shape) <= WHOLE_HELD_OUT_SIDE:
        return [(0, 0, shape[0], shape[1])]
    return patch_boxes(shape, params.patch_size, params.stride)


def tumour_fraction(mask: np.ndarray) -> float:
    """Share of labelled (not ignored) pixels whose class is not 0."""
    valid = mask != IGNORE_LABEL
    return float(((mask > 0) & valid).sum() / max(int(valid.sum()), 1))


def resample(image: np.ndarray, mask: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Scale an (h, w, 3) image (anti-aliased, linear) and its (h, w) mask (nearest) by ``scale``."""
    from skimage.transform import resize

    if abs(scale - 1) < 1e-3:
        return image, mask
    shape = (max(int(round(image.shape[0] * scale)), 1), max(int(round(image.shape[1] * scale)), 1))
    scaled = resize(image, shape, order=1, anti_aliasing=scale < 1, preserve_range=True)
    labels = resize(mask, shape, order=0, anti_aliasing=False, preserve_range=True)
    return scaled.round().astype(np.uint8), labels.astype(np.uint8)


def patch_boxes(shape: tuple[int, int], size: int, stride: int | None) -> list[tuple[int, int, int, int]]:
    """(y, x, h, w) boxes of side ``size`` over ``shape``; an image smaller than ``size`` is one box.

    The last row and column are moved inwards so that the boxes cover the whole image.
    """
    stride = stride or size

    def starts(length: int) -> list[int]:
        if length <= size:
            return [0]
        points = list(range(0, length - size + 1, stride))
        return points if points[-1] == length - size else [*points, length - size]

    h, w = min(size, shape[0]), min(size, shape[1])
    return [(y, x, h, w) for y in starts(shape[0]) for x in starts(shape[1])]


def write_summary_figure(manifest: Manifest, path: Path) -> Path:
    """The tumour-fraction histogram per split (HI-Net Fig. 2), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.5), dpi=100)
    axes = figure.add_subplot()
    bins = np.linspace(0, 1, 21)
    for split in ("train", "val", "test"):
        fractions = [p.tumour_fraction for p in manifest.split(split)]
        axes.hist(fractions, bins=bins, alpha=0.6, label=f"{split} ({len(fractions)})")
    axes.set_xlabel("tumour fraction of patch")
    axes.set_ylabel("patches")
    axes.set_title(f"{len(manifest.patches)} patches at {manifest.mpp:g} µm/px")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    return path


def _stain_stats(image: np.ndarray, tissue: np.ndarray) -> StainStats | None:
    try:
        return StainStats.fit(image, tissue)
    except StainError:
        return None


def _reference_stain(params: BuildParams) -> dict | None:
    return {"method": "reinhard", **StainStats().to_dict()} if params.stain == "reinhard" else None


def _describe(source) -> dict:
    return {"name": source.name, "path": str(getattr(source, "path", "")),
            "mpp": getattr(source, "mpp", None), "weight": getattr(source, "weight", 1.0)}


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)
