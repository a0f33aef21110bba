"""Micrometres per pixel (µm/px): one validator for every source.

Every µm/px the project uses goes through :func:`check_mpp`: the Aperio
``MPP`` field, the OME ``PhysicalSize`` of the chosen image, TIFF resolution
tags, openslide's properties, and what a user types (``--slide-mpp``, the
Segment dock). A value is accepted per axis (y, x), anisotropic values are
kept as they are, and each axis must be finite and within
``MIN_MPP``-``MAX_MPP``. File metadata that fails becomes "unknown" with the
reason kept (:class:`MppReading`), so ``histoseg info`` and the docks can say
why; user input that fails raises :class:`MppError`.

>>> check_mpp((0.25, 0.26), "the OME PhysicalSize")
(0.25, 0.26)
>>> reading_from_metadata(352.8, 352.8, "TIFF resolution tags (72 px per inch)").mpp is None
True
>>> mpp_from_objective(20)
0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Plausible level-0 µm/px: from beyond a 100x oil objective to a coarse overview.
MIN_MPP, MAX_MPP = 0.05, 50.0
#: µm/px x objective power on a typical scanner (0.25 at 40x, 0.5 at 20x).
MPP_TIMES_POWER = 10.0


class MppError(ValueError):
    """A µm/px value that cannot be used; the message names its source and the problem."""


@dataclass(frozen=True)
class MppReading:
    """What a slide file says about its µm/px.

    Attributes:
        mpp: validated level-0 (y, x) µm/px, or None when the file states none
            or states an implausible one.
        source: where the value came from (e.g. "Aperio MPP field"), or "".
        problem: why a stated value was rejected, or "".
    """

    mpp: tuple[float, float] | None
    source: str = ""
    problem: str = ""

    def describe(self) -> str:
        """One line for people: the value and its source, or why there is none."""
        if self.mpp is not None:
            return f"{self.mpp[1]:.4f} × {self.mpp[0]:.4f} µm/px (x × y), from the {self.source}"
        if self.problem:
            return f"unknown: {self.problem}"
        return "unknown (not in the file's metadata)"


def check_mpp(mpp, source: str) -> tuple[float, float]:
    """``mpp`` (one number, or (y, x)) as a validated (y, x) tuple of floats.

    Raises:
        MppError: not a number, not finite, or outside ``MIN_MPP``-``MAX_MPP``;
            the message names ``source`` and the value.
    """
    values = mpp if isinstance(mpp, (tuple, list)) else (mpp, mpp)
    if len(values) != 2:
        raise MppError(f"{source}: expected one µm/px value or two (y, x), got {mpp!r}")
    checked = []
    for axis, value in zip("yx", values):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise MppError(f"{source}: µm/px {axis} is {value!r}, not a number") from None
        if not math.isfinite(number):
            raise MppError(f"{source}: µm/px {axis} is {number}, not a finite number")
        if not MIN_MPP <= number <= MAX_MPP:
            raise MppError(f"{source}: µm/px {axis} is {number:.4g}, outside the plausible range "
                           f"{MIN_MPP:g}-{MAX_MPP:g} µm/px (0.25 at 40x, 0.5 at 20x)")
        checked.append(number)
    return (checked[0], checked[1])


def reading_from_metadata(mpp_y, mpp_x, source: str, hint: str = "") -> MppReading:
    """An :class:`MppReading` of a value a file states; rejected values keep the reason.

    ``hint`` is added to the reason when rejected (e.g. "72 dpi is a default of
    image software, not a scan resolution").
    """
    try:
        return MppReading(check_mpp((mpp_y, mpp_x), source), source)
    except MppError as err:
        return MppReading(None, source, f"{err}{'; ' + hint if hint else ''}")


def mpp_from_objective(power) -> float | None:
    """A typical level-0 µm/px for an objective power (20 -> 0.5), or None if unusable."""
    try:
        power = float(power)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(power) or power <= 0:
        return None
    mpp = MPP_TIMES_POWER / power
    return round(mpp, 4) if MIN_MPP <= mpp <= MAX_MPP else None
