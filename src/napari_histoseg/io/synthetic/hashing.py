"""Counter-based random numbers: uniforms from integer keys, the same in any order.

A tile is rendered from the keys of the grid cells it touches, so any tile can be
rendered alone, in any order or thread, and adjacent tiles agree at their seams.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_ROW = np.uint64(0xD6E8FEB86659FD93)
_COL = np.uint64(0xA0761D6478BD642F)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on a uint64 array (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def cell_keys(seed: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """uint64 keys of grid cells; ``rows`` and ``cols`` broadcast (may be negative)."""
    with np.errstate(over="ignore"):
        r = np.asarray(rows, dtype=np.int64).astype(np.uint64)
        c = np.asarray(cols, dtype=np.int64).astype(np.uint64)
        base = _mix(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _GOLDEN + _GOLDEN)
        return _mix(base ^ (r * _ROW) ^ _mix(c * _COL + _GOLDEN))


def uniforms(keys: np.ndarray, count: int) -> np.ndarray:
    """(count, *keys.shape) float64 uniforms in [0, 1), independent per key and index."""
    with np.errstate(over="ignore"):
        streams = keys[None] + _GOLDEN * np.arange(1, count + 1, dtype=np.uint64).reshape(
            (count,) + (1,) * keys.ndim)
        bits = _mix(streams) >> np.uint64(11)
    return bits.astype(np.float64) * (1.0 / 2**53)
