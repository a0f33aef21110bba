"""The synthetic pair: readable pyramids, truthful labels, CK5/6 rings, a correct affine."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from scipy import ndimage
from skimage.color import rgb2hed
from skimage.morphology import convex_hull_image

from napari_histoseg.io.labels import open_label_pyramid
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.synthetic import SynthConfig, add_synth_command, generate_pair, read_pair

#: DAB optical density (skimage's HED) above which a CK5/6 pixel counts as brown.
DAB_THRESHOLD = 0.05


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return generate_pair(tmp_path_factory.mktemp("synth"), SynthConfig(size=(2048, 2048), seed=3))


@pytest.fixture(scope="module")
def labels(pair) -> np.ndarray:
    return open_label_pyramid(pair.labels_path)[0].compute()


@pytest.fixture(scope="module")
def dab(pair) -> np.ndarray:
    """(h, w) bool: brown pixels of the CK5/6 level 0."""
    return rgb2hed(open_slide(pair.ck56_path).levels[0].compute())[..., 2] > DAB_THRESHOLD


def _to_ck56(pair, points_yx: np.ndarray) -> np.ndarray:
    homogeneous = np.column_stack([points_yx, np.ones(len(points_yx))])
    return (pair.affine @ homogeneous.T).T[:, :2]


def _dab_fraction(pair, dab: np.ndarray, region: np.ndarray) -> float:
    """Fraction of the H&E-frame pixels in ``region`` that are brown on the CK5/6."""
    ys, xs = np.nonzero(region)
    mapped = np.rint(_to_ck56(pair, np.column_stack([ys, xs]))).astype(int)
    inside = np.all((mapped >= 0) & (mapped < dab.shape), axis=1)
    return float(dab[mapped[inside, 0], mapped[inside, 1]].mean())


def test_slides_open_with_mpp_and_levels(pair):
    for path in (pair.he_path, pair.ck56_path):
        slide = open_slide(path)
        assert slide.mpp == pytest.approx((0.5, 0.5))
        assert slide.level_shapes == pair.config.level_shapes() == ((2048, 2048), (1024, 1024), (512, 512))
        assert slide.level_mpp(1) == pytest.approx((1.0, 1.0))
    levels = open_label_pyramid(pair.labels_path)
    assert tuple(level.shape for level in levels) == pair.config.level_shapes()


def test_labels_and_tumour_mask_agree_at_every_level(pair):
    for labels, tumour in zip(open_label_pyramid(pair.labels_path), open_label_pyramid(pair.tumour_path)):
        labels, tumour = labels.compute(), tumour.compute()
        assert set(np.unique(labels)) == {0, 1, 2}
        np.testing.assert_array_equal(tumour, (labels > 0).astype(np.uint8))


def test_he_looks_like_stained_tissue_on_white(pair, labels):
    he = open_slide(pair.he_path).levels[0].compute().astype(int)
    background = he[labels == 0].reshape(-1, 3)
    assert (background.min(axis=1) > 220).mean() > 0.2          # white glass around the tissue
    tumour = he[labels > 0].reshape(-1, 3).mean(axis=0)
    assert tumour[2] > tumour[1]                                  # hematoxylin purple: blue over green


def test_every_in_situ_region_has_a_dab_rim_and_no_invasive_region_does(pair, labels, dab):
    in_situ, n_in_situ = ndimage.label(labels == 1)
    invasive, n_invasive = ndimage.label(labels == 2)
    assert n_in_situ >= 1 and n_invasive >= 3
    for index in range(1, n_in_situ + 1):
        region = in_situ == index
        rim = region & ~ndimage.binary_erosion(region, iterations=14)
        assert _dab_fraction(pair, dab, rim) > 0.5, f"in-situ region {index} has no DAB rim"
    for index in range(1, n_invasive + 1):
        region = invasive == index
        around = ndimage.binary_dilation(region, iterations=16)
        assert _dab_fraction(pair, dab, around) < 0.01, f"invasive region {index} has DAB around it"


def test_affine_maps_in_situ_centres_onto_ck56_ring_centres(pair, labels, dab):
    """Convex hulls map onto convex hulls, so their centroids must match through the affine."""
    in_situ, count = ndimage.label(labels == 1)
    for index in range(1, count + 1):
        region = in_situ == index
        he_centre = np.argwhere(convex_hull_image(region)).mean(axis=0)
        mapped = _to_ck56(pair, he_centre[None])[0]
        reach = 1.3 * np.sqrt(region.sum() / np.pi)
        near = np.zeros_like(dab)
        (y0, x0), (y1, x1) = np.maximum(mapped - reach, 0).astype(int), (mapped + reach).astype(int)
        near[y0:y1, x0:x1] = True
        rings, n_rings = ndimage.label(ndimage.binary_closing(dab & near, iterations=2))
        ring = rings == 1 + np.argmax(ndimage.sum(np.ones_like(dab), rings, range(1, n_rings + 1)))
        ck56_centre = np.argwhere(convex_hull_image(ring)).mean(axis=0)
        assert np.hypot(*(ck56_centre - mapped)) < 2.0
        assert np.hypot(*(ck56_centre - he_centre)) > 2.0, "the sections should not lie exactly aligned"


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path):
    config = SynthConfig(size=(512, 768), seed=5, tile_size=256)
    first, second = generate_pair(tmp_path / "a", config), generate_pair(tmp_path / "b", config)
    for name in ("he_path", "ck56_path", "labels_path", "tumour_path"):
        assert getattr(first, name).read_bytes() == getattr(second, name).read_bytes(), name
    np.testing.assert_array_equal(first.affine, second.affine)
    other = generate_pair(tmp_path / "c", SynthConfig(size=(512, 768), seed=6, tile_size=256))
    assert other.he_path.read_bytes() != first.he_path.read_bytes()


def test_sidecar_round_trips(pair):
    again = read_pair(pair.he_path.parent)
    assert again.config == pair.config
    np.testing.assert_allclose(again.affine, pair.affine)


def test_stain_variation_changes_colour_not_geometry(tmp_path):
    plain = generate_pair(tmp_path / "p", SynthConfig(size=(512, 512), seed=2, tile_size=256,
                                                      stain_variation=0.0))
    varied = generate_pair(tmp_path / "v", SynthConfig(size=(512, 512), seed=2, tile_size=256,
                                                       stain_variation=0.3))
    assert plain.labels_path.read_bytes() == varied.labels_path.read_bytes()
    assert plain.he_path.read_bytes() != varied.he_path.read_bytes()


def test_synth_command_prints_the_paths_it_wrote(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_synth_command(parser.add_subparsers())
    args = parser.parse_args(["synth", str(tmp_path), "--size", "512", "512", "--seed", "1",
                              "--tile-size", "256"])
    assert args.func(args) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    assert len(printed) == 5 and all(__import__("pathlib").Path(p).is_file() for p in printed)


@pytest.mark.parametrize("field, value", [("size", (100, 100)), ("tile_size", 100), ("jpeg_quality", 0)])
def test_bad_config_is_refused_with_the_field_named(field, value):
    with pytest.raises(ValueError, match=field):
        SynthConfig(**{field: value})
