"""Registration of a CK5/6 slide onto its H&E: known synthetic transforms are recovered."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.registered import RegisteredSlide
from napari_histoseg.registration import (Registration, RegistrationError, RegistrationParams,
                                          layer_affine, register)
from napari_histoseg.registration_match import stain_tissue
from napari_histoseg.tissue import tissue_mask

SIDE, MPP = 2048, 1.0


def synthetic_pair(folder, seed: int):
    """A 2048² pair at 1 µm/px whose CK5/6 is rotated up to 10° and shifted up to 5% of the side."""
    config = SynthConfig(size=(SIDE, SIDE), mpp=MPP, seed=seed, max_rotation_deg=10.0,
                         max_shift_um=0.05 * SIDE * MPP)
    return generate_pair(folder / f"pair{seed}", config)


def tissue_error_px(he, estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Level-0 px distances between where two H&E -> CK5/6 affines send the H&E's tissue."""
    tissue = tissue_mask(he, 256)
    points = np.argwhere(tissue.mask) * np.asarray(tissue.downsample)
    points = np.c_[points, np.ones(len(points))]
    return np.hypot(*((points @ estimate.T - points @ truth.T)[:, :2].T))


@pytest.mark.parametrize("share", [0.05, 0.5])
def test_stain_tissue_masks_a_small_or_large_pale_section(share):
    """Pale CK5/6-like tissue with dark nests on glass that absorbs a little: the mask is the
    section whether it covers 5% or half of the thumbnail."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:256, :256]
    radius = np.sqrt(share * 256 * 256 / np.pi)
    section = np.hypot(yy - 128, xx - 128) < radius
    rgb = np.where(section[..., None], (214, 212, 232), (236, 234, 238)).astype(float)
    nests = section & (np.hypot(yy - 128, xx - 128 - radius / 2) < radius / 4)
    rgb[nests] = (70, 60, 140)
    rgb = np.clip(rgb + rng.normal(0, 2, rgb.shape), 0, 255).astype(np.uint8)
    mask = stain_tissue(rgb)
    assert (mask & section).sum() / (mask | section).sum() > 0.95


@pytest.mark.slow
@pytest.mark.parametrize("seed", [26, 20])   # -9.9° rotation; 4.7% shift with 5.8° rotation
def test_known_transform_recovered_within_2_px(tmp_path, seed):
    pair = synthetic_pair(tmp_path, seed)
    angle = np.degrees(np.arctan2(pair.affine[1, 0], pair.affine[0, 0]))
    assert abs(angle) > 5.5 and np.abs(pair.affine[:2, 2]).max() > 0.02 * SIDE   # a hard case
    he, ck56 = open_slide(pair.he_path), open_slide(pair.ck56_path)
    registration = register(he, ck56, RegistrationParams(patches=40))
    error = tissue_error_px(he, registration.matrix, pair.affine)
    assert error.max() <= 2.0, f"max {error.max():.2f} px, mean {error.mean():.2f} px"
    assert registration.ok and registration.ncc > 0.8 and registration.residual_um < 3.0


@pytest.mark.slow
def test_another_tissue_is_flagged(tmp_path):
    first = generate_pair(tmp_path / "a", SynthConfig(size=(1024, 1024), mpp=2.0, seed=3))
    other = generate_pair(tmp_path / "b", SynthConfig(size=(1024, 1024), mpp=2.0, seed=11))
    he, ck56 = open_slide(first.he_path), open_slide(other.ck56_path)
    try:
        registration = register(he, ck56)
    except RegistrationError as err:
        assert str(other.ck56_path) in str(err)
    else:
        assert not registration.ok, registration.summary()
        assert "POOR" in registration.summary()


def test_missing_mpp_names_the_file(tmp_path):
    pair = generate_pair(tmp_path, SynthConfig(size=(512, 512), mpp=2.0, seed=1))
    he = open_slide(pair.he_path)
    ck56 = dataclasses.replace(open_slide(pair.ck56_path), mpp=None)
    with pytest.raises(RegistrationError, match="ck56.tif: the slide states no µm per pixel"):
        register(he, ck56)


def _rotation(degrees: float, shift=(0.0, 0.0)) -> np.ndarray:
    angle = np.radians(degrees)
    return np.array([[np.cos(angle), -np.sin(angle), shift[0]],
                     [np.sin(angle), np.cos(angle), shift[1]], [0, 0, 1]])


def test_round_trip_nudge_and_layer_affine():
    registration = Registration(_rotation(4.0, (12.0, -30.0)), 0.9, 1.2, 20, 30)
    again = Registration.from_dict(registration.to_dict())
    np.testing.assert_allclose(again.matrix, registration.matrix)
    assert (again.ncc, again.residual_um, again.inliers) == (0.9, 1.2, 20)
    mpp = (0.5, 0.5)
    # the CK5/6 layer puts CK5/6 pixel A @ p where the H&E shows p (world = p * mpp)
    p = np.array([100.0, 250.0, 1.0])
    np.testing.assert_allclose(layer_affine(registration, mpp) @ (registration.matrix @ p),
                               [50.0, 125.0, 1.0], atol=1e-9)
    nudged = registration.nudged(5.0, -2.0, 0.0, mpp, centre=(0.0, 0.0))
    moved = layer_affine(nudged, mpp) @ (registration.matrix @ p)
    np.testing.assert_allclose(moved[:2], [55.0, 123.0], atol=1e-9)   # the overlay moved 5 µm down
    renudged = nudged.nudged(0.0, 0.0, 0.0, mpp, centre=(0.0, 0.0))
    np.testing.assert_allclose(renudged.matrix, registration.matrix, atol=1e-9)
    with pytest.raises(ValueError, match="invertible"):
        Registration.from_dict({"matrix": np.zeros((3, 3)).tolist(), "ncc": 1.0})


def test_registered_slide_reads_through_the_transform(tmp_path):
    pair = generate_pair(tmp_path, SynthConfig(size=(1024, 1024), mpp=2.0, seed=1))
    he, ck56 = open_slide(pair.he_path), open_slide(pair.ck56_path)
    identity = RegisteredSlide(he, ck56, Registration(np.eye(3), 1.0, 0.0))
    np.testing.assert_array_equal(identity.read_region(0, (100, 60), (64, 80)),
                                  ck56.read_region(0, (100, 60), (64, 80)))
    shifted = RegisteredSlide(he, ck56, Registration(_rotation(0.0, (20.0, -8.0)), 1.0, 0.0))
    np.testing.assert_array_equal(shifted.read_region(0, (100, 60), (64, 80)),
                                  ck56.read_region(0, (120, 52), (64, 80)))
    coarse = shifted.read_region(1, (50, 30), (32, 40))
    assert coarse.shape == (32, 40, 3) and coarse.dtype == np.uint8
    assert (shifted.read_region(0, (5000, 5000), (16, 16)) == 255).all()
