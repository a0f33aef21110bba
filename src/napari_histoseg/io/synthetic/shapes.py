"""Irregular ellipses: the shape of every duct and invasive nest.

An outline is an ellipse (semi-axes ``a`` along ``angle`` and ``b`` across it)
whose radius is modulated by three low harmonics, r(θ) = 1 + Σ amp_k cos(k θ + phase_k)
for k = 2, 3, 4. ``depth`` is the distance inside the outline in µm (negative outside),
which is what the layered rings of a duct are cut from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HARMONICS = np.array([2, 3, 4])


@dataclass(frozen=True)
class Ellipses:
    """n irregular ellipses in µm (level-0 slide frame, (y, x))."""

    cy: np.ndarray
    cx: np.ndarray
    a: np.ndarray
    b: np.ndarray
    angle: np.ndarray
    amp: np.ndarray      # (n, 3)
    phase: np.ndarray    # (n, 3)

    def __len__(self) -> int:
        return len(self.cy)

    @property
    def reach(self) -> np.ndarray:
        """(n,) radius in µm of a circle that holds each outline."""
        return np.maximum(self.a, self.b) * (1 + self.amp.sum(axis=1)) + 1.0

    def overlapping(self, y0: float, x0: float, y1: float, x1: float, margin: float = 0.0) -> np.ndarray:
        """Indices of outlines whose reach (+ margin µm) meets the box [y0, y1) x [x0, x1)."""
        r = self.reach + margin
        hit = (self.cy + r > y0) & (self.cy - r < y1) & (self.cx + r > x0) & (self.cx - r < x1)
        return np.flatnonzero(hit)

    def depth(self, index: int, dy: np.ndarray, dx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(depth µm inside outline ``index``, polar angle) at offsets (dy, dx) µm from its centre."""
        return self.depth_only(index, dy, dx), np.arctan2(dy, dx)

    def depth_only(self, index: int, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
        """float32 depth in µm inside outline ``index`` (negative outside) at offsets (dy, dx) µm.

        Depth is (1 - ρ) times the mean radius, where ρ is the outline-normalised
        radius: exact on a circle and close enough on these mild ellipses. The
        harmonics cos(kθ + φ) come from cos θ and sin θ by the angle-sum formulas,
        so no trigonometric function is evaluated per pixel.
        """
        cos, sin = np.float32(np.cos(self.angle[index])), np.float32(np.sin(self.angle[index]))
        dy, dx = np.asarray(dy, dtype=np.float32), np.asarray(dx, dtype=np.float32)
        a, b = np.float32(self.a[index]), np.float32(self.b[index])
        p = (dx * cos + dy * sin) / a            # u / a
        q = (dy * cos - dx * sin) / b            # v / b
        radius = np.sqrt(p * p + q * q)
        scale = 1.0 / np.maximum(radius, np.float32(1e-12))
        c1, s1 = p * scale, q * scale            # cos θ, sin θ of θ = atan2(v a, u b)
        wobble = np.ones_like(radius)
        ck, sk = c1, s1
        for k in range(1, HARMONICS[-1] + 1):
            if k > 1:
                ck, sk = ck * c1 - sk * s1, sk * c1 + ck * s1
            if k in HARMONICS:
                j = int(np.flatnonzero(HARMONICS == k)[0])
                phase = self.phase[index, j]
                amp = self.amp[index, j]
                wobble += np.float32(amp * np.cos(phase)) * ck - np.float32(amp * np.sin(phase)) * sk
        return (1.0 - radius / wobble) * np.float32(np.sqrt(a * b))


def stack(parts: list[Ellipses]) -> Ellipses:
    """One Ellipses holding all of ``parts`` in order."""
    if not parts:
        return empty()
    return Ellipses(*(np.concatenate([getattr(p, name) for p in parts])
                      for name in ("cy", "cx", "a", "b", "angle", "amp", "phase")))


def empty() -> Ellipses:
    """No outlines."""
    zero = np.zeros(0)
    return Ellipses(zero, zero, zero, zero, zero, np.zeros((0, 3)), np.zeros((0, 3)))


def random_ellipses(rng: np.random.Generator, cy, cx, radius, aspect, angle,
                    irregularity: float) -> Ellipses:
    """Ellipses of mean radius ``radius`` µm; ``irregularity`` is the total harmonic amplitude."""
    cy, cx, radius, aspect, angle = np.broadcast_arrays(*map(np.atleast_1d, (cy, cx, radius, aspect, angle)))
    n = len(cy)
    weights = rng.dirichlet(np.ones(3), size=n) if n else np.zeros((0, 3))
    return Ellipses(cy=cy.astype(float), cx=cx.astype(float),
                    a=radius * np.sqrt(aspect), b=radius / np.sqrt(aspect), angle=angle.astype(float),
                    amp=weights * irregularity, phase=rng.uniform(0, 2 * np.pi, size=(n, 3)))
