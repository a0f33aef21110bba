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
        """(depth µm inside outline ``index``, polar angle) at offsets (dy, dx) µm from its centre.

        Depth is (1 - ρ) times the mean radius, where ρ is the outline-normalised
        radius: exact on a circle and close enough on these mild ellipses.
        """
        cos, sin = np.cos(self.angle[index]), np.sin(self.angle[index])
        u = dx * cos + dy * sin
        v = dy * cos - dx * sin
        a, b = self.a[index], self.b[index]
        theta = np.arctan2(v * a, u * b)
        wobble = 1.0 + sum(self.amp[index, k] * np.cos(h * theta + self.phase[index, k])
                           for k, h in enumerate(HARMONICS))
        rho = np.sqrt((u / a) ** 2 + (v / b) ** 2) / wobble
        return (1.0 - rho) * np.sqrt(a * b), np.arctan2(dy, dx)


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
