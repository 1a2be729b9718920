"""Scalar activations with their first and second derivatives, for the constructions and certificates.

Each :class:`Activation` evaluates h, h' and h'' elementwise in float64 NumPy and inverts h on its range (the
Theorem-2 global minimum solves h(v4) = h(v2) h(v3) / h(v1)). The smooth ones (tanh, sigmoid, arctan, softplus)
are analytic everywhere; ELU and SELU are analytic except at 0, where h'' jumps (C2.4 then excludes 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_SELU_LAMBDA = 1.0507009873554805
_SELU_ALPHA = 1.6732632423543772


@dataclass(frozen=True)
class Activation:
    """An elementwise activation h with h', h'' and the inverse of h on its range.

    Parameters
    ----------
    name : str
    h, dh, d2h : callable
        h and its first two derivatives, elementwise on float64 arrays.
    inverse : callable
        h^{-1} on the open range (``range_lo``, ``range_hi``).
    range_lo, range_hi : float
        The open range of h.
    kinks : tuple of float
        Points where h is not C-infinity (empty for analytic activations).
    """

    name: str
    h: Callable[[np.ndarray], np.ndarray]
    dh: Callable[[np.ndarray], np.ndarray]
    d2h: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[float], float]
    range_lo: float
    range_hi: float
    kinks: tuple = ()

    def invert(self, value: float) -> float:
        """h^{-1}(value); a ``ValueError`` when value is outside the open range of h."""
        value = float(value)
        if not (self.range_lo < value < self.range_hi):
            raise ValueError(f"{value!r} is outside the range ({self.range_lo}, {self.range_hi}) of {self.name}")
        return float(self.inverse(value))


def _sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def _elu_family(scale: float, alpha: float, name: str) -> Activation:
    def h(x):
        x = np.asarray(x, dtype=np.float64)
        return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))

    def dh(x):
        x = np.asarray(x, dtype=np.float64)
        return scale * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))

    def d2h(x):
        x = np.asarray(x, dtype=np.float64)
        return scale * np.where(x > 0, 0.0, alpha * np.exp(np.minimum(x, 0.0)))

    def inverse(y):
        y = y / scale
        return y if y > 0 else math.log1p(y / alpha)

    return Activation(name, h, dh, d2h, inverse, -scale * alpha, math.inf, kinks=(0.0,))


#: the smooth activations of Theorem 2 / Corollary 3 (and softplus), by name
SMOOTH_ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation(
        "tanh",
        np.tanh,
        lambda x: 1.0 / np.cosh(x) ** 2,
        lambda x: -2.0 * np.tanh(x) / np.cosh(x) ** 2,
        math.atanh,
        -1.0,
        1.0,
    ),
    "sigmoid": Activation(
        "sigmoid",
        _sigmoid,
        lambda x: _sigmoid(x) * (1.0 - _sigmoid(x)),
        lambda x: _sigmoid(x) * (1.0 - _sigmoid(x)) * (1.0 - 2.0 * _sigmoid(x)),
        lambda y: math.log(y / (1.0 - y)),
        0.0,
        1.0,
    ),
    "arctan": Activation(
        "arctan",
        np.arctan,
        lambda x: 1.0 / (1.0 + np.asarray(x, dtype=np.float64) ** 2),
        lambda x: -2.0 * np.asarray(x, dtype=np.float64) / (1.0 + np.asarray(x, dtype=np.float64) ** 2) ** 2,
        math.tan,
        -math.pi / 2,
        math.pi / 2,
    ),
    "softplus": Activation(
        "softplus",
        lambda x: np.logaddexp(0.0, x),
        _sigmoid,
        lambda x: _sigmoid(x) * (1.0 - _sigmoid(x)),
        lambda y: y + math.log(-math.expm1(-y)),
        0.0,
        math.inf,
    ),
    "elu": _elu_family(1.0, 1.0, "elu"),
    "selu": _elu_family(_SELU_LAMBDA, _SELU_ALPHA, "selu"),
}


def get_activation(activation) -> Activation:
    """An :class:`Activation` from its name (one of ``SMOOTH_ACTIVATIONS``) or as given."""
    if isinstance(activation, Activation):
        return activation
    if not isinstance(activation, str):
        raise TypeError(
            f"activation must be a name ({', '.join(sorted(SMOOTH_ACTIVATIONS))}) or an Activation, "
            f"got {type(activation).__name__}"
        )
    try:
        return SMOOTH_ACTIVATIONS[activation]
    except KeyError:
        raise ValueError(f"activation must be one of {sorted(SMOOTH_ACTIVATIONS)}, got {activation!r}") from None


def two_slope(s_pos: float, s_neg: float) -> Activation:
    """The two-slope h(x) = s+ x for x > 0, s- x for x <= 0 (h'' = 0; h'(0) = s-), as ``leaky`` in :mod:`optcore.nn`.

    Parameters
    ----------
    s_pos, s_neg : float
        The slopes, with s+ > 0 and s- >= 0 (THEORY.md 1.1): then h is increasing on its range, so that
        :meth:`Activation.invert` is defined, and h equals the paper's max(s+ x, 0) + min(s- x, 0).

    Raises
    ------
    ValueError
        For other slopes (h is then not invertible; :class:`optcore.nn.MLP` takes them).
    """
    s_pos, s_neg = float(s_pos), float(s_neg)
    if not (math.isfinite(s_pos) and math.isfinite(s_neg)) or s_pos <= 0 or s_neg < 0:
        raise ValueError(
            f"two_slope needs finite slopes s+ > 0 and s- >= 0 (an invertible activation), got ({s_pos}, {s_neg})"
        )

    def h(x):
        x = np.asarray(x, dtype=np.float64)
        return np.where(x > 0, s_pos * x, s_neg * x)

    def inverse(y):
        return y / s_pos if y > 0 else (y / s_neg if s_neg > 0 else 0.0)

    lo = -math.inf if s_neg > 0 else 0.0
    return Activation(
        f"two-slope({s_pos:g}, {s_neg:g})",
        h,
        lambda x: np.where(np.asarray(x) > 0, s_pos, s_neg).astype(np.float64),
        lambda x: np.zeros_like(np.asarray(x, dtype=np.float64)),
        inverse,
        lo,
        math.inf,
        kinks=(0.0,),
    )
