"""Checks of a construction: exactly in rational arithmetic, and in float64 with the C++ forward pass."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .construction import Construction


def verify_exact(construction: Construction, X, Y) -> bool:
    """True when the network maps every x_i to y_i exactly (inputs and labels converted exactly to rationals)."""
    Y = np.asarray(Y, dtype=np.float64)
    Y = Y[:, None] if Y.ndim == 1 else Y
    outs = construction.exact_outputs(X)
    return all(
        all(o == Fraction(float(v)) for o, v in zip(out, row, strict=True)) for out, row in zip(outs, Y, strict=True)
    )


def float64_error(construction: Construction, X, Y) -> float:
    """max_i |f(x_i) - y_i| with the float64 weights, evaluated by optcore's C++ forward pass."""
    net, params = construction.to_mlp()
    out = net.forward(params, np.asarray(X, dtype=np.float64))
    Y = np.asarray(Y, dtype=np.float64)
    return float(np.max(np.abs(out - (Y[:, None] if Y.ndim == 1 else Y))))
