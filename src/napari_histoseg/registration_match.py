"""The matching steps of ``registration``: haematoxylin features, rotation search, patch refinement.

scikit-image does the work: ``registration.phase_cross_correlation`` for shifts,
``transform.warp`` for resampling, ``measure.ransac`` with ``SimilarityTransform``
or ``AffineTransform`` for the robust fit. Matrices are (3, 3) in (y, x, 1) order;
scikit-image's are in (x, y) order and are swapped at the boundary (``_swap_xy``).
"""

from __future__ import annotations

import numpy as np

from napari_histoseg.stain import stain_densities

#: Gaussian sigma (µm) that blurs single nuclei, which differ between serial sections.
NUCLEUS_BLUR_UM = 5.0
#: Sub-pixel precision of the patch shifts (1 / this of a pixel).
UPSAMPLE = 10
#: A patch whose haematoxylin feature varies less than this (OD) has no structure to match.
MIN_PATCH_STD = 0.004
#: Tissue absorbs at least this much more (total optical density) than the slide's glass.
MIN_TISSUE_OD = 0.04
#: The percentile of a thumbnail's density taken as its glass.
GLASS_PERCENTILE = 1
#: Tissue absorbs more than glass by at least this share of the median tissue's excess.
TISSUE_CONTRAST = 0.25
#: Haematoxylin optical density above which a pixel counts as "cell-dense", no more.
MAX_OD = 0.1
#: A patch pair less alike than this after the shift is not used (a chance peak).
MIN_PATCH_NCC = 0.5
#: Fewer RANSAC inliers than this (or than this share of the matched patches) and a
#: refinement level keeps the previous estimate.
MIN_INLIERS = 6
MIN_INLIER_SHARE = 0.25
#: RANSAC's inlier tolerance: serial sections' patches agree to about 1 µm, not to a pixel.
MATCH_TOLERANCE_UM = 2.5


def _swap_xy(matrix: np.ndarray) -> np.ndarray:
    """A (3, 3) matrix in (y, x) order as one in (x, y) order, or back."""
    swap = np.array([[0.0, 1, 0], [1, 0, 0], [0, 0, 1]])
    return swap @ matrix @ swap


def warp_yx(image: np.ndarray, matrix: np.ndarray, shape: tuple[int, int], cval: float = 0.0,
            order: int = 1) -> np.ndarray:
    """``image`` resampled onto a ``shape`` grid; ``matrix`` maps output (y, x, 1) to input (y, x, 1)."""
    from skimage.transform import AffineTransform, warp

    return warp(image, AffineTransform(matrix=_swap_xy(matrix)), output_shape=shape, order=order,
                cval=cval, preserve_range=True).astype(np.float32)


def haematoxylin(rgb: np.ndarray) -> np.ndarray:
    """(h, w) float32 haematoxylin optical density of (h, w, 3) uint8, capped at ``MAX_OD``.

    The cap keeps what both sections share (where cells are dense) and drops single
    dark nuclei, which differ between serial sections and whose near-black pixels
    deconvolve noisily.
    """
    return np.minimum(stain_densities(rgb, (0,))[..., 0], MAX_OD)


def feature_image(rgb: np.ndarray, tissue: np.ndarray | None = None,
                  sigma_px: float = 1.0) -> np.ndarray:
    """(h, w) float32 smoothed haematoxylin optical density, plus 0.05 on ``tissue`` if given."""
    from scipy.ndimage import gaussian_filter

    feature = gaussian_filter(haematoxylin(rgb), sigma_px)
    if tissue is not None:
        feature += 0.05 * tissue
    return feature


def stain_tissue(rgb: np.ndarray) -> np.ndarray:
    """(h, w) bool tissue of a thumbnail of any stain, by how much light it absorbs.

    ``tissue.detect_tissue`` looks for the pink and purple of H&E; a CK5/6 section is
    mostly pale blue, so both sections are masked alike, by total optical density.
    Glass is not at zero density (about 0.08 on the synthetic slides), so it is
    measured: the brightest pixels (``GLASS_PERCENTILE``) are glass on any scan with a
    margin. Tissue absorbs more than glass by ``TISSUE_CONTRAST`` of the typical
    tissue's excess, and by at least ``MIN_TISSUE_OD``: a pale IHC counterstain gets a
    low bar, a dark H&E a higher one that dust on the glass does not pass. No share of
    the slide is assumed, so a section covering 5% of its glass is masked as well as
    one covering 50%.
    """
    from scipy.ndimage import binary_fill_holes, gaussian_filter
    from skimage.morphology import remove_small_objects

    density = gaussian_filter(-np.log((rgb[..., :3].astype(np.float32) + 1) / 256).sum(-1), 1.0)
    glass = float(np.percentile(density, GLASS_PERCENTILE))
    absorbing = density[density > glass + MIN_TISSUE_OD]
    if not absorbing.size:
        return np.zeros(density.shape, bool)
    excess = max(MIN_TISSUE_OD, TISSUE_CONTRAST * (float(np.median(absorbing)) - glass))
    mask = binary_fill_holes(density > glass + excess)
    return remove_small_objects(mask, max_size=max(mask.size // 2000, 1))


def ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Pearson correlation of ``a`` and ``b`` over ``mask`` (all pixels if None); 0 if flat."""
    if mask is not None:
        a, b = a[mask], b[mask]
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def _rotation_about(centre: np.ndarray, degrees: float, scale: float) -> np.ndarray:
    """(3, 3) map of fixed-thumbnail (y, x) to moving-thumbnail (y, x): rotate and scale about
    ``centre``, which goes to the same place."""
    angle = np.radians(degrees)
    linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    out = np.eye(3)
    out[:2, :2] = linear
    out[:2, 2] = centre - linear @ centre
    return out


def coarse_match(fixed: np.ndarray, moving: np.ndarray, tissue: np.ndarray, max_degrees: float,
                 scale: float = 1.0) -> np.ndarray:
    """(3, 3) fixed-thumbnail -> moving-thumbnail map with the best NCC over ``tissue``.

    Rotations every degree over ±max_degrees, then every 0.2° about the best; each
    rotation's shift comes from phase correlation. ``scale`` is moving px per fixed px.
    """
    centre = (np.array(fixed.shape, float) - 1) / 2

    def candidate(degrees: float) -> tuple[float, np.ndarray]:
        from skimage.registration import phase_cross_correlation

        rotation = _rotation_about(centre, degrees, scale)
        warped = warp_yx(moving, rotation, fixed.shape)
        shift = phase_cross_correlation(fixed, warped, normalization=None)[0]
        translate = np.eye(3)
        translate[:2, 2] = -shift
        matrix = rotation @ translate
        return ncc(fixed, warp_yx(moving, matrix, fixed.shape), tissue), matrix

    steps = int(np.ceil(max_degrees))
    best = max((candidate(d) for d in np.arange(-steps, steps + 1.0)), key=lambda c: c[0])
    best_degrees = np.degrees(np.arctan2(best[1][1, 0], best[1][0, 0]))
    fine = (candidate(best_degrees + d) for d in np.arange(-0.8, 0.81, 0.2))
    return max([best, *fine], key=lambda c: c[0])[1]


def level_frame(location: tuple[int, int], downsample: float) -> np.ndarray:
    """(3, 3) map of a region's px (y, x, 1) to level-0 px; the region starts at ``location``."""
    d = downsample
    return np.array([[d, 0, (location[0] + 0.5) * d - 0.5], [0, d, (location[1] + 0.5) * d - 0.5],
                     [0, 0, 1]])


def _spread_points(points: np.ndarray, count: int, spacing: float) -> np.ndarray:
    """The first up to ``count`` of ``points`` (n, 2, best first) that lie ``spacing`` apart."""
    kept: list[np.ndarray] = []
    for point in points:
        if all(np.hypot(*(point - k)) >= spacing for k in kept):
            kept.append(point)
            if len(kept) == count:
                break
    return np.array(kept).reshape(-1, 2)


def match_patch(he, ck56, matrix: np.ndarray, centre0: np.ndarray, levels: tuple[int, int],
                patch: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(H&E level-0 point, CK5/6 level-0 point) that show the same tissue near ``centre0``, or None.

    The H&E patch at ``levels[0]`` is compared with the CK5/6 patch read at ``levels[1]``
    through ``matrix``; their residual shift, by phase correlation, corrects the match.
    """
    from scipy.ndimage import gaussian_filter
    from skimage.filters import window
    from skimage.registration import phase_cross_correlation

    df, dm = he.downsamples[levels[0]], ck56.downsamples[levels[1]]
    location = tuple(int(v) for v in np.round((centre0 + 0.5) / df - 0.5 - patch / 2))
    frame = level_frame(location, df)
    corners = np.array([[0, 0, 1], [0, patch, 1], [patch, 0, 1], [patch, patch, 1]], float)
    moving_px = (corners @ (matrix @ frame).T)[:, :2] / dm
    low, high = np.floor(moving_px.min(0)).astype(int) - 2, np.ceil(moving_px.max(0)).astype(int) + 2
    moving_rgb = ck56.read_region(levels[1], tuple(low), tuple(high - low))
    to_moving = np.linalg.inv(level_frame(tuple(low), dm)) @ matrix @ frame
    sigma = NUCLEUS_BLUR_UM / (he.mpp[0] * df)
    fixed = feature_image(he.read_region(levels[0], location, (patch, patch)), sigma_px=sigma)
    warped = warp_yx(gaussian_filter(haematoxylin(moving_rgb), sigma * df / dm),
                     to_moving, (patch, patch))
    if fixed.std() < MIN_PATCH_STD or warped.std() < MIN_PATCH_STD:
        return None
    taper = window("hann", (patch, patch))
    shift = phase_cross_correlation((fixed - fixed.mean()) * taper, (warped - warped.mean()) * taper,
                                    upsample_factor=UPSAMPLE, normalization=None)[0]
    if np.abs(shift).max() > patch / 4:
        return None
    back = np.eye(3)
    back[:2, 2] = -shift
    if ncc(fixed, warp_yx(warped, back, (patch, patch))) < MIN_PATCH_NCC:
        return None
    centre = np.array([(patch - 1) / 2, (patch - 1) / 2, 1.0])
    moved = centre.copy()
    moved[:2] -= shift
    return (frame @ centre)[:2], (matrix @ frame @ moved)[:2]


def refine_matrix(he, ck56, matrix: np.ndarray, candidates: np.ndarray, downsample: float,
                  params) -> tuple[np.ndarray, float, int, int] | None:
    """(matrix, RMS residual in H&E level-0 px, inliers, points) refined at ``downsample``, or None
    when too few patches match (the caller keeps its estimate). ``candidates`` (n, 2) are
    H&E level-0 patch centres, the most structured first."""
    from skimage.measure import ransac
    from skimage.transform import AffineTransform, SimilarityTransform

    fixed_level = he.best_level_for_downsample(downsample)
    df = he.downsamples[fixed_level]
    moving_downsample = df * he.mpp[0] / ck56.mpp[0] * np.sqrt(abs(np.linalg.det(matrix[:2, :2])))
    levels = (fixed_level, ck56.best_level_for_downsample(moving_downsample))
    centres = _spread_points(candidates, params.patches, 0.5 * params.patch * df)
    pairs = [p for c in centres if (p := match_patch(he, ck56, matrix, c, levels, params.patch))]
    if len(pairs) < MIN_INLIERS:
        return None
    source = np.array([p[0][::-1] for p in pairs])
    target = np.array([p[1][::-1] for p in pairs])
    model_class = SimilarityTransform if params.model == "similarity" else AffineTransform
    model, inliers = ransac((source, target), model_class, min_samples=3,
                            residual_threshold=max(2.0 * df, MATCH_TOLERANCE_UM / he.mpp[0]),
                            max_trials=500, rng=0)
    if model is None or inliers.sum() < max(MIN_INLIERS, MIN_INLIER_SHARE * len(pairs)):
        return None
    residuals = model.residuals(source[inliers], target[inliers])
    return _swap_xy(model.params), float(np.sqrt(np.mean(residuals ** 2))), int(inliers.sum()), len(pairs)
