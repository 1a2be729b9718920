"""Checks of a construction: exactly in rational arithmetic, and in float64 with the C++ forward pass."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .construction import Construction
from .points import exact_float64


def _points(construction: Construction, X, Y) -> tuple[np.ndarray, np.ndarray]:
    """X (N, dx) and Y (N, dy) as finite float64 arrays matching the construction's input and output widths."""
    dx, dy = construction.widths[0], construction.widths[-1]
    X = exact_float64(X, "X", ndim=2)  # exactly the numbers given: a rounded input would verify another point
    if X.shape[1] != dx:
        raise ValueError(f"X must have shape (N, {dx}), got {X.shape}")
    Y = exact_float64(Y, "Y")
    Y = Y[:, None] if Y.ndim == 1 else Y
    if Y.shape != (X.shape[0], dy):
        raise ValueError(f"Y must have shape ({X.shape[0]},) or ({X.shape[0]}, {dy}), got {Y.shape}")
    return X, Y


def verify_exact(construction: Construction, X, Y) -> bool:
    """True when the network maps every x_i to y_i exactly (inputs and labels converted exactly to rationals)."""
    X, Y = _points(construction, X, Y)
    outs = construction.exact_outputs(X)
    return all(
        all(o == Fraction(float(v)) for o, v in zip(out, row, strict=True)) for out, row in zip(outs, Y, strict=True)
    )


def float64_error(construction: Construction, X, Y) -> float:
    """max_i |f(x_i) - y_i| with the float64 weights, evaluated by optcore's C++ forward pass.

    Raises
    ------
    ValueError
        When the weights are outside the float64 range (:meth:`Construction.float_layers`), or when the float64
        forward pass itself overflows to inf or NaN: the error is then not a number float64 can state.
    """
    X, Y = _points(construction, X, Y)
    net, params = construction.to_mlp()
    out = net.forward(params, X)
    if not np.all(np.isfinite(out)):
        raise ValueError(
            "the float64 forward pass overflows (inf or NaN outputs) on these inputs: the float64 export is out of "
            f"range for X with magnitudes up to {np.max(np.abs(X)):.3g}; the exact construction is valid "
            "(use verify_exact)"
        )
    return float(np.max(np.abs(out - Y)))
