"""Exact rationals to float64, refusing values the format cannot hold.

The constructions are exact for any finite inputs, but their weights scale like 1 / (gaps between projections)
and like the projections themselves: subnormal inputs give weights near 1e323, inputs near 1e308 give biases near
1e310. Such a weight has no float64 value (``float(Fraction)`` raises a bare ``OverflowError``) or keeps only a few
bits (a nonzero value below the normal range 2.2e-308 is rounded to a subnormal or to 0). Either way the exported
network is not the constructed one, so the export raises a ``ValueError`` that says which value, where, and the
float64 range; the exact construction itself stays valid.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

FLOAT64_MAX = Fraction(np.finfo(np.float64).max)
FLOAT64_TINY = Fraction(np.finfo(np.float64).smallest_normal)
RANGE_TEXT = "float64 holds magnitudes 2.2e-308 to 1.8e308 at full precision"


def log10_abs(value: Fraction) -> float:
    """log10 |value| of a nonzero rational, without converting it to float (it may be far outside float64)."""
    value = abs(value)
    return (math.log10(value.numerator) if value.numerator else -math.inf) - math.log10(value.denominator)


def in_float64_range(value: Fraction) -> bool:
    """Whether ``value`` is 0 or a rational whose magnitude float64 holds at full precision (a normal number)."""
    return value == 0 or FLOAT64_TINY <= abs(value) <= FLOAT64_MAX


def to_float64(value: Fraction, where: str) -> float:
    """``value`` rounded to float64; ``ValueError`` naming ``where`` when it is outside the normal range."""
    if not in_float64_range(value):
        raise ValueError(
            f"the float64 export is out of range: {where} is about 1e{log10_abs(value):.0f} exactly, and "
            f"{RANGE_TEXT}; the exact construction is valid (use exact_outputs / verify_exact), rescale the inputs "
            "to export it"
        )
    return float(value)
