"""Registering a paired CK5/6 slide onto its H&E: an affine between the two level-0 frames.

Serial sections lie rotated, shifted and slightly scaled against each other. Both
are counterstained with haematoxylin, so the haematoxylin optical density (colour
deconvolution, ``stain.stain_densities``) plus the tissue mask is what is matched:

1. **Coarse**, on thumbnails (about 16 µm/px): a search over rotations, each
   followed by scikit-image's ``phase_cross_correlation`` for the shift; the best
   normalised cross-correlation (NCC) over the H&E's tissue wins.
2. **Refine**, at finer levels (each at most 8x finer than the last, down to
   ``RegistrationParams.refine_mpp``): patches on tissue are read from both slides,
   the CK5/6 patch through the current estimate; ``phase_cross_correlation`` with
   sub-pixel upsampling gives each patch's residual shift, and scikit-image's
   ``ransac`` fits a similarity (or affine) transform to the control points.

Why a similarity (with scale), not a rigid fit in µm, even when both slides state
their µm/px: the µm/px is the scanner's scale, not the tissue's. Serial sections
stretch or shrink by one to a few per cent when floated and mounted, so the
tissue's scale between two sections on one scanner is unknown; the synthetic pairs
(``io.synthetic.warp``) model it with a scale change of up to ±2%, and a rigid fit
would miss it by tens of pixels at the edge of an 8,192² slide.

What limits the accuracy: serial sections hold different nuclei. On synthetic pairs
a patch's shift is off by about 1.7 µm (median) even when read through the true
transform (0.2 µm when both sections are given the same nuclei), so the fit's error
is that scatter averaged over the few nests a section holds: about 1-3.5 px at level
0 on 8,192² pairs at 0.5 µm/px (README, registration benchmark). It is the signal,
not the estimator: maximising the NCC of a nuclei-suppressed haematoxylin feature
over the whole tissue at 1 µm/px (all four parameters at once) lands 1-2.7 px from
the true transform too, and scores a higher NCC there than at the truth on every
pair measured.

The quality is the NCC of haematoxylin after warping (thumbnails, over tissue) and
the RMS residual of the inlier control points in µm; a poor fit is flagged, never
silently used. Nothing here reads a whole level: thumbnails and patches only.

Matrices are (3, 3) in (y, x, 1) order: ``matrix @ (y, x, 1)`` maps an H&E level-0
pixel centre to the CK5/6 level-0 pixel centre that shows the same tissue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_histoseg.io.errors import FileError
from napari_histoseg.registration_match import (MIN_INLIERS, coarse_match, feature_image, ncc, refine_matrix,
                                                stain_tissue, warp_yx)

#: Below this NCC of haematoxylin after warping, a registration is flagged as poor.
MIN_NCC = 0.4
#: Above this RMS control-point residual (µm), a registration is flagged as poor.
MAX_RESIDUAL_UM = 8.0
#: A CK5/6 section whose tissue area differs more than this factor is another tissue.
MAX_AREA_RATIO = 2.0


class RegistrationError(FileError):
    """A CK5/6 slide that cannot be registered onto its H&E (named file, cause, what to do)."""


@dataclass(frozen=True)
class RegistrationParams:
    """How to register.

    thumbnail_mpp: µm/px of the coarse step's thumbnails.
    max_rotation_deg: the coarse search covers ±this.
    refine_mpp: µm/px of the finest refinement (not finer than the slides' level 0).
    patch: side (px) of the refinement patches; patches: how many at most per level.
    model: ``"similarity"`` (rotation, scale, shift) or ``"affine"``.
    """

    thumbnail_mpp: float = 16.0
    max_rotation_deg: float = 15.0
    refine_mpp: float = 1.0
    patch: int = 384
    patches: int = 80
    model: str = "similarity"

    def __post_init__(self):
        if self.model not in ("similarity", "affine"):
            raise ValueError(f"model must be 'similarity' or 'affine', not {self.model!r}")
        if self.thumbnail_mpp <= 0 or self.refine_mpp <= 0 or self.patch < 32 or self.patches < 3:
            raise ValueError("thumbnail_mpp and refine_mpp must be > 0, patch >= 32, patches >= 3")


@dataclass(frozen=True)
class Registration:
    """An H&E -> CK5/6 transform and how well it fits.

    matrix: (3, 3) H&E level-0 (y, x, 1) -> CK5/6 level-0 (y, x, 1).
    ncc: normalised cross-correlation of haematoxylin after warping (-1..1).
    residual_um: RMS residual of the inlier control points, µm (NaN if none).
    inliers, points: control points kept by RANSAC, and found.
    nudge: manual (dy µm, dx µm, rotation °) applied on top of the estimate.
    """

    matrix: np.ndarray
    ncc: float
    residual_um: float
    inliers: int = 0
    points: int = 0
    nudge: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def ok(self) -> bool:
        """True unless the fit is poor (low NCC or large residual)."""
        return self.ncc >= MIN_NCC and self.inliers >= MIN_INLIERS and self.residual_um <= MAX_RESIDUAL_UM

    def summary(self) -> str:
        """One line for the dock and the CLI."""
        verdict = "good" if self.ok else "POOR - check the overlay and nudge it, or pick another slide"
        angle = np.degrees(np.arctan2(self.matrix[1, 0], self.matrix[0, 0]))
        return (f"registration {verdict}: NCC {self.ncc:.2f}, residual {self.residual_um:.1f} µm "
                f"({self.inliers}/{self.points} control points), rotation {angle:.1f}°")

    def to_dict(self) -> dict:
        return {"matrix": np.asarray(self.matrix).tolist(), "ncc": self.ncc,
                "residual_um": None if np.isnan(self.residual_um) else self.residual_um,
                "inliers": self.inliers, "points": self.points, "nudge": list(self.nudge),
                "maps": "H&E level-0 (y, x, 1) -> CK5/6 level-0 (y, x, 1)"}

    @classmethod
    def from_dict(cls, data: dict) -> Registration:
        matrix = np.asarray(data["matrix"], dtype=float)
        if matrix.shape != (3, 3) or not np.allclose(matrix[2], (0, 0, 1)) \
                or abs(np.linalg.det(matrix[:2, :2])) < 1e-6:
            raise ValueError(f"a registration matrix must be an invertible (3, 3) affine, got {matrix}")
        residual = data.get("residual_um")
        return cls(matrix, float(data["ncc"]), float("nan") if residual is None else float(residual),
                   int(data.get("inliers", 0)), int(data.get("points", 0)),
                   tuple(float(v) for v in data.get("nudge", (0, 0, 0))))

    def nudged(self, dy_um: float, dx_um: float, rotation_deg: float,
               he_mpp: tuple[float, float], centre: tuple[float, float]) -> Registration:
        """This registration with a manual nudge: the CK5/6 overlay moves by (dy, dx) µm on the
        H&E and turns by ``rotation_deg`` about ``centre`` (H&E level-0 px). Nudges replace,
        not add to, the previous nudge; the estimate underneath is kept."""
        base = self.matrix @ np.linalg.inv(_nudge_matrix(self.nudge, he_mpp, centre))
        matrix = base @ _nudge_matrix((dy_um, dx_um, rotation_deg), he_mpp, centre)
        return Registration(matrix, self.ncc, self.residual_um, self.inliers, self.points,
                            (float(dy_um), float(dx_um), float(rotation_deg)))


def _nudge_matrix(nudge, he_mpp, centre) -> np.ndarray:
    """(3, 3) H&E-frame map that undoes an overlay move of ``nudge`` = (dy µm, dx µm, °)."""
    dy, dx, degrees = nudge
    angle = np.radians(degrees)
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    shifted = np.asarray(centre, float) + (dy / he_mpp[0], dx / he_mpp[1])
    out = np.eye(3)
    out[:2, :2] = rotation
    out[:2, 2] = np.asarray(centre, float) - rotation @ shifted
    return out


def layer_affine(registration: Registration, he_mpp: tuple[float, float]) -> np.ndarray:
    """(3, 3) napari ``affine`` for a CK5/6 layer: its level-0 pixels -> H&E world µm (y, x)."""
    return np.diag([he_mpp[0], he_mpp[1], 1.0]) @ np.linalg.inv(registration.matrix)


def register(he, ck56, params: RegistrationParams = RegistrationParams()) -> Registration:
    """Register ``ck56`` (a Slide) onto ``he`` (a Slide).

    Raises RegistrationError (naming the CK5/6 file) when a slide has no µm/px, when
    the sections hold different amounts of tissue, or when no transform is found.
    """
    for slide in (he, ck56):
        if slide.mpp is None:
            raise RegistrationError(slide.path, "the slide states no µm per pixel, so it cannot be "
                                    "registered; set its µm/px in the Slide dock first")
    fixed, moving = _Thumb.of(he, params.thumbnail_mpp), _Thumb.of(ck56, params.thumbnail_mpp)
    areas = (fixed.tissue.sum() * fixed.um ** 2, moving.tissue.sum() * moving.um ** 2)
    if min(areas) == 0:
        raise RegistrationError(he.path if areas[0] == 0 else ck56.path,
                                "no tissue found on its thumbnail; is the slide blank?")
    if max(areas) / min(areas) > MAX_AREA_RATIO:
        raise RegistrationError(ck56.path, f"its tissue covers {areas[1] / 1e6:.1f} mm² against "
                                f"{areas[0] / 1e6:.1f} mm² on the H&E; is it a section of another block?")
    thumb = coarse_match(fixed.feature, moving.feature, fixed.tissue, params.max_rotation_deg,
                         scale=fixed.um / moving.um)
    matrix = moving.to_level0 @ thumb @ np.linalg.inv(fixed.to_level0)
    inliers = points = 0
    residual = float("nan")
    for downsample in _refine_downsamples(he, params, fixed.downsample):
        result = refine_matrix(he, ck56, matrix, fixed.candidates(), downsample, params)
        if result is not None:
            matrix, residual, inliers, points = result
    score = ncc(fixed.feature, warp_yx(moving.feature, np.linalg.inv(moving.to_level0) @ matrix
                                       @ fixed.to_level0, fixed.feature.shape), fixed.tissue)
    return Registration(matrix, score, residual * he.mpp[0], inliers, points)


def _refine_downsamples(he, params: RegistrationParams, coarse: float) -> list[float]:
    """H&E downsamples of the refinement levels, each at most 8x finer than the previous;
    the finest twice (its second pass starts closer, so its patches warp less)."""
    finest = max(1.0, params.refine_mpp / he.mpp[0])
    out, current = [], coarse
    while current > finest * 1.01:
        current = max(finest, current / 8)
        out.append(current)
    return out + out[-1:]


@dataclass(frozen=True)
class _Thumb:
    """A slide's thumbnail features: haematoxylin feature, tissue, and the px -> level-0 map."""

    feature: np.ndarray
    tissue: np.ndarray
    to_level0: np.ndarray
    downsample: float
    um: float

    @classmethod
    def of(cls, slide, thumbnail_mpp: float) -> _Thumb:
        h0, w0 = slide.level_shapes[0]
        max_size = int(np.clip(max(h0, w0) * slide.mpp[0] / thumbnail_mpp, 64, 4096))
        rgb = slide.thumbnail(max_size)
        tissue = stain_tissue(rgb)
        fy, fx = h0 / rgb.shape[0], w0 / rgb.shape[1]
        to_level0 = np.array([[fy, 0, 0.5 * fy - 0.5], [0, fx, 0.5 * fx - 0.5], [0, 0, 1]])
        return cls(feature_image(rgb, tissue), tissue, to_level0, fy, fy * slide.mpp[0])

    def candidates(self) -> np.ndarray:
        """(n, 2) level-0 (y, x) of the thumbnail's tissue pixels, the most structured first
        (local standard deviation of the feature over about 5 px)."""
        from scipy.ndimage import gaussian_filter

        mean = gaussian_filter(self.feature, 2.5)
        spread = gaussian_filter(self.feature ** 2, 2.5) - mean ** 2
        yx = np.argwhere(self.tissue)
        yx = yx[np.argsort(-spread[self.tissue], kind="stable")].astype(float)
        return yx @ self.to_level0[:2, :2].T + self.to_level0[:2, 2]
