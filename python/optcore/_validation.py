"""Argument checks shared by the public functions.

Every check raises ``TypeError`` (wrong kind of object or dtype) or ``ValueError`` (wrong value or shape) with a
message that names the argument and says what was expected, so that bad input never reaches the C++ loops.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_dtype(dtype, name: str = "dtype") -> np.dtype:
    """Return ``dtype`` as float32 or float64, or raise ``TypeError`` naming the allowed dtypes."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r}") from exc
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {dt}")
    return dt


def float_array(value, name: str, dtype, *, ndim=None, shape=None, finite: bool = True) -> np.ndarray:
    """Convert ``value`` to a C-contiguous array of ``dtype`` after checking it is real, numeric and finite.

    ``shape`` may contain ``None`` for any extent. Integer and boolean inputs are converted; complex, object and
    string inputs raise ``TypeError``.
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim not in (ndim if isinstance(ndim, tuple) else (ndim,)):
        raise ValueError(f"{name} must have ndim {ndim}, got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape, strict=True)):
            expected = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {expected}, got {arr.shape}")
    out = np.asarray(arr, dtype=dtype, order="C")  # (ascontiguousarray would turn 0-d into 1-d)
    if finite and not np.all(np.isfinite(out)):
        bad = "NaN" if np.isnan(out).any() else "inf"
        raise ValueError(f"{name} must be finite, but contains {bad} (after conversion to {np.dtype(dtype)})")
    return out


def index_array(value, name: str, *, upper: int) -> np.ndarray:
    """Convert ``value`` to an int64 array of indices in [0, upper)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= upper):
        raise ValueError(f"{name} must hold indices in [0, {upper}), got values in [{arr.min()}, {arr.max()}]")
    return np.ascontiguousarray(arr, dtype=np.int64)


def integer(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as a Python int, checking it is an integer (not bool, not float) within bounds."""
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be an integer, got bool {value!r}")
    if not isinstance(value, numbers.Integral | np.integer):
        try:
            value = operator.index(value)
        except TypeError:
            raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def positive_float(value, name: str) -> float:
    """Return ``value`` as a finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real | np.floating | np.integer):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def nonnegative_float(value, name: str) -> float:
    """Return ``value`` as a finite float >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real | np.floating | np.integer):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def choice(value, name: str, allowed) -> str:
    """Return ``value`` if it is one of the strings in ``allowed``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {sorted(allowed)}, got {type(value).__name__}")
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value
