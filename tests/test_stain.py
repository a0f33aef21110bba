"""Reinhard stain normalisation with fit and apply apart, and HED jitter."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg.stain import StainError, StainStats, hed_jitter, normalise
from tests.conftest import tissue_like_rgb


def test_whole_image_normalisation_matches_torchstain():
    from torchstain.numpy.normalizers.reinhard import NumpyReinhardNormalizer

    source, target = tissue_like_rgb((96, 96), seed=1), tissue_like_rgb((96, 96), seed=2)[..., ::-1]
    reference = NumpyReinhardNormalizer()
    reference.fit(np.ascontiguousarray(target))
    expected = reference.normalize(source).astype(np.float32)
    ours = normalise(source, StainStats.fit(source), StainStats.fit(np.ascontiguousarray(target)))
    assert np.abs(ours.astype(np.float32) - expected).mean() < 2.0


def test_stats_fitted_once_normalise_tiles_alike():
    image = tissue_like_rgb((128, 128))
    stats = StainStats.fit(image)
    whole = normalise(image, stats)
    tile = normalise(image[:64, :64], stats)
    np.testing.assert_array_equal(whole[:64, :64], tile)          # no per-tile drift, no seams


def test_fitted_stats_land_on_the_reference():
    from skimage.color import rgb2lab

    image = tissue_like_rgb((128, 128))
    lab = rgb2lab(normalise(image, StainStats.fit(image)) / 255.0).reshape(-1, 3)
    np.testing.assert_allclose(lab.mean(0), StainStats().mean, atol=2.0)


def test_too_little_tissue_is_an_error_and_stats_round_trip():
    image = tissue_like_rgb((32, 32))
    with pytest.raises(StainError, match="tissue pixels"):
        StainStats.fit(image, np.zeros((32, 32), bool))
    stats = StainStats.fit(image)
    assert StainStats.from_dict(stats.to_dict()) == stats
    with pytest.raises(ValueError, match="positive"):
        StainStats.from_dict({"mean": [1, 2, 3], "std": [1, 0, 1]})


def test_hed_jitter_changes_colour_reproducibly():
    image = tissue_like_rgb((64, 64))
    first = hed_jitter(image, np.random.default_rng(3), sigma=0.1)
    again = hed_jitter(image, np.random.default_rng(3), sigma=0.1)
    np.testing.assert_array_equal(first, again)
    assert first.shape == image.shape and np.abs(first.astype(int) - image).mean() > 1


def test_the_lookup_table_matches_the_direct_transform():
    from napari_histoseg.stain import apply_lut, colour_lut

    image = tissue_like_rgb((64, 64))
    stats = StainStats.fit(image)
    direct = normalise(image, stats).astype(int)
    looked_up = apply_lut(image, colour_lut(stats)).astype(int)
    assert np.abs(direct - looked_up).mean() < 2.0 and np.abs(direct - looked_up).max() <= 12
