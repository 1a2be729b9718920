"""The data of a memorization problem: validated inputs and labels, equal inputs merged.

Two inputs are equal when their coordinates are equal as numbers (``-0.0 == 0.0``), because the constructions work
with the rationals the coordinates stand for; comparing bit patterns would call 0.0 and -0.0 two points that no
projection can separate. Equal inputs with equal labels are one point; equal inputs with different labels have no
memorizing function at all, which is a ``ValueError``.
"""

from __future__ import annotations

import numpy as np

from .._validation import float_array


def exact_float64(value, name: str, *, ndim=None) -> np.ndarray:
    """``value`` as a finite float64 array, refusing values that float64 does not hold exactly.

    The constructions memorize the rationals of the float64 values, so an input that conversion rounds (an
    integer above 2^53, a long double) would be memorized as another number, and two distinct ones could become
    equal: a ``ValueError`` naming the first such entry instead.
    """
    raw = np.asarray(value)
    out = float_array(raw, name, np.float64, ndim=ndim)
    if raw.dtype.kind in "iu":
        big = np.flatnonzero((raw.ravel() > 2**53) | (raw.ravel() < -(2**53)))  # below 2^53 every integer is exact
        lost = [i for i in big if int(out.ravel()[i]) != int(raw.ravel()[i])]
    elif raw.dtype.kind == "f" and raw.dtype.itemsize > 8:
        lost = np.flatnonzero(out.ravel().astype(raw.dtype) != raw.ravel())
    else:
        lost = []
    if len(lost):
        at = np.unravel_index(int(lost[0]), raw.shape)
        raise ValueError(
            f"{name}{list(map(int, at))} = {raw[at]} has no exact float64 value (float64 would round it to "
            f"{float(out[at])!r}): the construction memorizes float64 numbers; pass values float64 holds"
        )
    return out


def memorization_data(X, Y, *, x_name: str = "X", y_name: str = "Y") -> tuple[np.ndarray, np.ndarray]:
    """Validate (X, Y) and merge equal inputs.

    Parameters
    ----------
    X : array (N, dx)
        Finite inputs; rows that are equal as numbers (0.0 and -0.0 included) are one point.
    Y : array (N,) or (N, dy)
        Finite labels in [-1, 1].
    x_name, y_name : str
        Names of the arguments in error messages.

    Returns
    -------
    X : ndarray (M, dx), float64
        The distinct inputs, in order of first appearance, with every -0.0 written as 0.0.
    Y : ndarray (M, dy), float64
        Their labels.

    Raises
    ------
    ValueError
        For non-finite values, wrong shapes, labels outside [-1, 1], no points, or two equal inputs with different
        labels (the message names both indices).
    """
    X = exact_float64(X, x_name, ndim=2)
    Y = exact_float64(Y, y_name)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
        raise ValueError(f"{y_name} must have shape (N,) or (N, dy) with N = {X.shape[0]}, got {Y.shape}")
    if X.shape[0] < 1:
        raise ValueError(f"need at least one point, got {x_name} of shape {X.shape}")
    if X.shape[1] < 1:
        raise ValueError(f"{x_name} needs at least one coordinate, got shape {X.shape}")
    if np.any(np.abs(Y) > 1):
        raise ValueError(f"labels must lie in [-1, 1], got {y_name} in [{Y.min()}, {Y.max()}]")
    # -0.0 + 0.0 is +0.0: one representation per value, so that the rows below (and every later use) agree
    X, Y = X + 0.0, Y + 0.0
    first: dict[tuple, int] = {}
    for i, row in enumerate(X.tolist()):  # Python floats hash and compare by value
        j = first.setdefault(tuple(row), i)
        if j != i and not np.array_equal(Y[j], Y[i]):
            raise ValueError(
                f"inputs {j} and {i} are equal but carry different labels ({Y[j].tolist()} and {Y[i].tolist()}): "
                "no function memorizes them"
            )
    keep = sorted(first.values())
    return X[keep], Y[keep]
