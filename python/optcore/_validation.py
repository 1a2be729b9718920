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
    if arr.dtype == dtype and arr.flags.c_contiguous:
        out = arr  # what asarray returns too, without the cost of errstate: no cast, so nothing can overflow
    else:
        with np.errstate(over="ignore"):  # an overflowing cast is reported below as the ValueError it is
            out = np.asarray(arr, dtype=dtype, order="C")  # (ascontiguousarray would turn 0-d into 1-d)
    if finite and not np.isfinite(out).all():
        if np.isnan(out).any() or not np.all(np.isfinite(arr)):
            bad = "NaN" if np.isnan(out).any() else "inf"
            raise ValueError(f"{name} must be finite, but contains {bad} (after conversion to {np.dtype(dtype)})")
        raise ValueError(
            f"{name} must be finite in {np.dtype(dtype)}, but its largest magnitude {float(np.max(np.abs(arr))):.3g} "
            f"overflows it (largest {np.dtype(dtype)} {float(np.finfo(dtype).max):.3g}); rescale {name} or use float64"
        )
    return out


def index_array(value, name: str, *, upper: int) -> np.ndarray:
    """Convert ``value`` to an int64 array of indices in [0, upper)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= upper):
        raise ValueError(f"{name} must hold indices in [0, {upper}), got values in [{arr.min()}, {arr.max()}]")
    return np.ascontiguousarray(arr, dtype=np.int64)


def integer(value, name: str, *, minimum: int | None = None, maximum: int | None = None, why: str = "") -> int:
    """Return ``value`` as a Python int, checking it is an integer (not bool, not float) within bounds.

    ``why`` (e.g. "the streams' worker field has 24 bits") is added to the message when ``value`` exceeds
    ``maximum``.
    """
    if type(value) is int:  # the usual call: a plain int (bool is a subclass, not the type itself)
        if (minimum is None or value >= minimum) and (maximum is None or value <= maximum):
            return value
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
        raise ValueError(f"{name} must be <= {_bound(maximum)}{f' ({why})' if why else ''}, got {value}")
    return value


def _bound(limit: int) -> str:
    """A limit as written in the docs: 2**24 and 2**32 - 1 rather than 16777216 and 4294967295."""
    for offset, text in ((0, ""), (1, " - 1")):
        k = (limit + offset).bit_length() - 1
        if k >= 16 and limit + offset == 2**k:
            return f"2**{k}{text} = {limit}"
    return str(limit)


#: The compiled core's limits: counts it reads as int64, and the widths of the random streams' fields
#: (docs/randomness.md: run 32 bits, epoch 32 bits, worker 24 bits).
INT64_MAX = 2**63 - 1
MAX_EPOCHS = 2**32 - 1
MAX_WORKERS = 2**24
MAX_PER_WORKER = 2**32 - 1
MAX_RUNS = 2**32
WHY_RUNS = "run ids are 32-bit stream numbers, docs/randomness.md"
WHY_EPOCHS = "the random streams' epoch field has 32 bits, docs/randomness.md"
WHY_WORKERS = "the random streams' worker field has 24 bits, docs/randomness.md; more workers would share streams"


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


def boolean(value, name: str) -> bool:
    """Return ``value`` if it is a bool (or NumPy bool); anything else -- 1, "yes", None -- raises ``TypeError``."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool (True or False), got {type(value).__name__} {value!r}")
    return bool(value)


# --- magnitudes that must survive a float dtype -------------------------------------------------------------------
def _about(log2_magnitude: float) -> str:
    """'3.3e-600' for a magnitude given by its base-2 logarithm (the value itself may not exist as a float)."""
    e10 = log2_magnitude * np.log10(2.0)
    k = int(np.floor(e10))
    mantissa = float(f"{10.0 ** (e10 - k):.2g}")
    if mantissa >= 10:  # 9.96 rounds to 10
        mantissa, k = mantissa / 10, k + 1
    return f"{mantissa:g}e{k:+d}"


def _check_magnitude(log2_big: float, name: str, dtype, *, normal: bool, hint: str) -> None:
    info = np.finfo(dtype)
    if log2_big >= np.log2(float(info.max)):
        raise ValueError(
            f"{name} is about {_about(log2_big)}, which overflows {np.dtype(dtype)} (largest "
            f"{float(info.max):.3g}){hint}"
        )
    if normal and log2_big < np.log2(float(info.tiny)):
        raise ValueError(
            f"{name} is about {_about(log2_big)}, below the smallest normal {np.dtype(dtype)} number "
            f"{float(info.tiny):.3g}: it would be flushed or lose its precision{hint}"
        )


def representable(value, name: str, dtype, *, normal: bool = False, hint: str = ""):
    """Check that ``value`` (a float or an array, computed in float64) is finite in ``dtype``; return it unchanged.

    With ``normal=True`` its largest magnitude, when nonzero, must also be at least the smallest normal number of
    ``dtype`` (a smaller nonzero value would be flushed to zero or keep only a few bits). ``hint`` is appended to
    the message (e.g. "; rescale A and b"). Raises ``ValueError`` naming ``name``.
    """
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 0:
        return value
    if np.isnan(arr).any():
        raise ValueError(f"{name} is NaN{hint}")
    big = float(np.max(np.abs(arr)))
    if big == np.inf:
        raise ValueError(f"{name} overflows float64 (it is inf){hint}")
    if big > 0:
        _check_magnitude(float(np.log2(big)), name, dtype, normal=normal, hint=hint)
    return value


def binary_exponent(arr) -> int:
    """The k with max|arr| in [2**(k-1), 2**k) (0 for zeros): ``arr / 2**k`` is exact and at most 1 in magnitude.

    Linear algebra on ``arr * 2**-k`` cannot overflow or underflow where the result is representable, and scaling
    back by ``2**k`` (:func:`unscale`) is exact; this is how the problems compute their constants at any scale.
    """
    big = float(np.max(np.abs(arr))) if np.size(arr) else 0.0
    return int(np.frexp(big)[1]) if big > 0 else 0


def unscale(mantissa, exponent: int, name: str, dtype, *, hint: str = ""):
    """``mantissa * 2**exponent`` (exact), after checking that its largest magnitude is a normal ``dtype`` number.

    The check is done on the logarithm, so a true value like 1e-600 or 1e400 -- which float64 cannot hold -- is
    reported as what it is instead of silently becoming 0 or inf.
    """
    m = np.asarray(mantissa, dtype=np.float64)
    big = float(np.max(np.abs(m))) if m.size else 0.0
    if not np.isfinite(big):
        raise ValueError(f"{name} is not finite{hint}")
    if big > 0:
        _check_magnitude(float(np.log2(big)) + exponent, name, dtype, normal=True, hint=hint)
    out = np.ldexp(m, exponent)
    return float(out) if np.ndim(mantissa) == 0 else out


def generator(seed, name: str = "seed") -> np.random.Generator:
    """``numpy.random.default_rng(seed)``, with NumPy's errors ("expected non-negative integer") naming ``name``."""
    if isinstance(seed, bool | np.bool_):
        raise TypeError(f"{name} must be None, a non-negative int, a sequence of them or a numpy Generator, got bool")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise type(exc)(
            f"{name} must be None, a non-negative int, a sequence of them or a numpy Generator, got {seed!r} ({exc})"
        ) from None
