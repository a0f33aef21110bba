"""The CAMELYON17 category of a slide, from its largest lesion's longest diameter.

CAMELYON17 (after the TNM rules for lymph-node metastases) sorts a slide by the longest
diameter of its largest metastasis:

======================  ==========================
macro-metastasis         longer than 2 mm
micro-metastasis         longer than 0.2 mm, up to 2 mm
isolated tumour cells    up to 0.2 mm
none                     no tumour
======================  ==========================

Both limits belong to the smaller category: exactly 0.2 mm is isolated tumour cells,
exactly 2 mm a micro-metastasis. Diameters are compared in µm rounded to 1e-6 µm, so the
rounding of ``n px x µm/px`` never moves a lesion across a limit.

>>> camelyon17_category(200.0), camelyon17_category(200.5), camelyon17_category(2000.0)
('isolated tumour cells', 'micro-metastasis', 'micro-metastasis')
"""

from __future__ import annotations

NONE = "none"
ITC = "isolated tumour cells"
MICRO = "micro-metastasis"
MACRO = "macro-metastasis"
#: Upper limits in µm, inclusive.
ITC_MAX_UM = 200.0
MICRO_MAX_UM = 2000.0


def camelyon17_category(largest_diameter_um: float | None) -> str:
    """The category for the longest diameter (µm) of the largest lesion; None: no lesion."""
    if largest_diameter_um is None:
        return NONE
    diameter = round(float(largest_diameter_um), 6)
    if diameter < 0:
        raise ValueError(f"a diameter cannot be negative, got {largest_diameter_um} µm")
    if diameter <= ITC_MAX_UM:
        return ITC
    if diameter <= MICRO_MAX_UM:
        return MICRO
    return MACRO
