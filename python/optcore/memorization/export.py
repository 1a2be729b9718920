"""Exact rationals to float64 (or float32), refusing values the format cannot hold.

The constructions are exact for any finite inputs, but their weights scale like 1 / (gaps between projections):
subnormal inputs give weights near 1e323. Such a weight has no float64 value (``float(Fraction)`` raises a bare
``OverflowError``), and a nonzero value below the normal range keeps only a few bits (it is rounded to a subnormal
or to 0). Either way the exported network is not the constructed one, so the export raises a ``ValueError`` that
says which value, where, and the range of the format; the exact construction itself stays valid.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .._validation import as_dtype

FLOAT64_MAX = Fraction(np.finfo(np.float64).max)


def log10_abs(value: Fraction) -> float:
    """log10 |value| of a nonzero rational, without converting it to float (it may be far outside float64)."""
    value = abs(value)
    return math.log10(value.numerator) - math.log10(value.denominator)


def in_range(value: Fraction, dtype=np.float64) -> bool:
    """Whether ``value`` is 0 or a rational whose magnitude ``dtype`` holds at full precision (a normal number)."""
    info = np.finfo(dtype)
    return value == 0 or Fraction(float(info.smallest_normal)) <= abs(value) <= Fraction(float(info.max))


def _short(x) -> str:
    """2.2e-308, 1.8e308: two digits, no '+' in the exponent."""
    return f"{float(x):.2g}".replace("e+", "e")


def to_float(value: Fraction, where: str, dtype=np.float64) -> float:
    """``value`` rounded to ``dtype`` (float32 or float64); ``ValueError`` naming ``where`` outside its range."""
    dtype = as_dtype(dtype)
    if not in_range(value, dtype):
        info = np.finfo(dtype)
        raise ValueError(
            f"the {dtype} export is out of range: {where} is about 1e{log10_abs(value):.0f} exactly, and {dtype} "
            f"holds magnitudes {_short(info.smallest_normal)} to {_short(info.max)} at full precision; the "
            "exact construction is valid (use exact_outputs / verify_exact), rescale the inputs to export it"
        )
    return float(dtype.type(float(value)))


def to_float64(value: Fraction, where: str) -> float:
    """``value`` rounded to float64 (:func:`to_float`)."""
    return to_float(value, where, np.float64)
