"""Explicit spurious local minima of one-hidden-layer networks (THEORY.md 1.2 and 1.3).

* :func:`theorem1` -- Theorem 1 (Yun, Sra, Jadbabaie 2019): for the two-slope activation
  h(x) = max(s+ x, 0) + min(s- x, 0) with s+ > 0, s- >= 0 (so h(x) = s+ x for x > 0, s- x for x <= 0: the
  ``leaky`` activation of :mod:`optcore.nn`) and s+ != s-, width d1 >= 2 and data that no affine map fits, the local
  minimum whose risk equals the linear least-squares risk l0, and a strictly better point whose risk has the exact
  closed form l0 - 2 c gamma R + (m/2) c^2 gamma^2.
* :func:`theorem2` -- Theorem 2 on the three-point data set: the local minimum with risk 1/3 and the zero-risk
  point, for a smooth activation, with its parameters found numerically from conditions C2.1-C2.7.

Data are one row per example (X is m x dx, as in :mod:`optcore.nn`); THEORY.md writes the transpose. The risk is
the sum 1/2 sum_i (f(x_i) - y_i)^2, i.e. an :class:`optcore.nn.MLP` with ``reduction="sum"``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from .._validation import float_array, integer, positive_float
from ..nn import MLP
from .activations import Activation, get_activation
from .shallow import ShallowNet


# --- Theorem 1 ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Theorem1:
    """The Theorem-1 local minimum and the strictly better point, with their closed-form risks.

    Attributes
    ----------
    mlp : optcore.nn.MLP
        Widths (dx, d1, 1), two-slope (``leaky``) activation with (s+, s-), summed squared loss, float64.
    local_min, better : ndarray (P,)
        Flat parameter vectors of the local minimum (Step 1) and of the better point (Step 2).
    ls_weights : ndarray (dx + 1,)
        W-bar, the least-squares affine fit [weights, intercept].
    ls_risk : float
        l0(W-bar) = 1/2 |W-bar X~ - y|^2, the closed-form risk of ``local_min``.
    better_risk : float
        The closed form l0 - 2 c gamma R + (m/2) c^2 gamma^2 of the risk of ``better``.
    j0, gamma, c, R : the Step-2 choices (j0 counted in the order of increasing fitted values, 1-based as in the
        paper).
    alpha, eta : the Step-1 scale and offset.
    J : tuple of int
        The index set J (1-based).
    """

    mlp: MLP
    local_min: np.ndarray
    better: np.ndarray
    ls_weights: np.ndarray
    ls_risk: float
    better_risk: float
    j0: int
    gamma: float
    c: float
    R: float
    alpha: float
    eta: float
    J: tuple = field(default=())


def _affine_fit(X, y):
    """W-bar and the fitted values of the least-squares affine fit, independent of the scale and offset of X, y.

    lstsq's rank cutoff is relative to the largest singular value, so on [X 1] itself a column of scale 1e-17
    (or 1e17 against the ones column), or one offset by 1e9 (nearly parallel to the ones column), counted as
    rank-deficient and the fit silently dropped it. Each column is therefore centred on its midrange and scaled to
    [-1, 1] first (the column space of [X 1] is the same), y is scaled to [-1, 1], and the weights are mapped back.
    """
    # the midrange (halves first: no overflow); subtracting it is exact for offset data (Sterbenz), and any shift
    # leaves the fit unchanged, so its own rounding does not matter
    centre = X.min(axis=0) / 2 + X.max(axis=0) / 2
    Xc = X - centre
    spread = np.max(np.abs(Xc), axis=0)
    spread = np.where(spread > 0, spread, 1.0)  # a constant column is in the span of the ones column
    A = np.hstack([Xc / spread, np.ones((X.shape[0], 1))])
    ys = float(np.max(np.abs(y))) or 1.0
    t = y / ys
    v, *_ = np.linalg.lstsq(A, t, rcond=None)
    # one step of iterative refinement: the normal-equation residual X~^T (y_bar - y) is what the certificate uses
    v = v + np.linalg.lstsq(A, t - A @ v, rcond=None)[0]
    fitted = ys * (A @ v)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # checked just below
        wx = ys * (v[:-1] / spread)
        w = np.append(wx, ys * (v[-1] - np.dot(centre / spread, v[:-1])))
    if not np.all(np.isfinite(w)):
        raise ValueError(
            "the least-squares weights overflow float64 (inputs of very small scale against large targets): "
            f"rescale X (column spreads {spread.min():.3g}..{spread.max():.3g}) or y (magnitude {ys:.3g})"
        )
    return w, fitted


def _half_squared_norm(r, what: str) -> float:
    """1/2 |r|^2 without overflow or underflow in the sum; ``ValueError`` when the value itself has no float64."""
    top = float(np.max(np.abs(r))) if r.size else 0.0
    if top == 0:
        return 0.0
    inner = 0.5 * float(np.sum((r / top) ** 2))
    with np.errstate(over="ignore", under="ignore"):
        value = top * top * inner
    if not (np.finfo(np.float64).smallest_normal <= value < math.inf):
        raise ValueError(
            f"{what} is about 1e{2 * math.log10(top) + math.log10(inner):.0f}, outside the float64 range "
            "(2.2e-308 to 1.8e308): rescale y"
        )
    return value


def least_squares_fit(X, y):
    """W-bar = argmin 1/2 |[X 1] w - y|^2, the fitted values and l0 (the minimum-norm solution if rank-deficient).

    The fit does not depend on the scale or offset of the columns of X (see :func:`_affine_fit`). ``ValueError``
    when l0 (or W-bar) has no float64 value.
    """
    X = float_array(X, "X", np.float64, ndim=2)
    y = float_array(y, "y", np.float64, shape=(X.shape[0],))
    w, fitted = _affine_fit(X, y)
    return w, fitted, _half_squared_norm(fitted - y, "the least-squares risk l0")


def theorem1_minimum(X, y, *, d1: int = 2, slopes=(1.1, 1.0), alpha: float = 1.0):
    """The Step-1 local minimum of Theorem 1 alone (it exists whether or not J is empty).

    Parameters are those of :func:`theorem1`.

    Returns
    -------
    mlp : optcore.nn.MLP
    params : ndarray (P,)
        The local minimum: its network output on the data is the least-squares fit.
    ls_weights : ndarray (dx + 1,)
    ls_risk : float
        l0, the risk of ``params``.
    eta : float
    """
    X = float_array(X, "X", np.float64, ndim=2)
    m, dx = X.shape
    if m < 2 or dx < 1:
        raise ValueError(f"X must have at least two rows and one column, got shape {X.shape}")
    y = float_array(y, "y", np.float64)
    if y.shape not in ((m,), (m, 1)):
        raise ValueError(f"y must have shape ({m},) (one output, dy = 1), got {y.shape}")
    y = y.reshape(m)
    d1 = integer(d1, "d1", minimum=2)
    s_pos, s_neg = _slopes(slopes)
    alpha = positive_float(alpha, "alpha")
    if np.unique(X, axis=0).shape[0] < m:
        raise ValueError("the inputs x_i must be distinct (condition C1.2)")

    w_bar, y_bar = _affine_fit(X, y)
    # C1.1 relative to the targets' size (an absolute risk would underflow for small targets)
    ys = float(np.max(np.abs(y))) or 1.0
    relative = float(np.linalg.norm((y_bar - y) / ys) / max(np.linalg.norm(y / ys), 1e-300))
    if relative <= 1e-10:
        raise ValueError(
            f"the data are fitted by an affine map (residual {relative:.3g} of |y|): condition C1.1 fails, and the "
            "least-squares point is a global minimum, not a spurious one"
        )
    l0 = _half_squared_norm(y_bar - y, "the least-squares risk l0")

    # Step 1: every hidden pre-activation is >= -eta * alpha > 0 (and the first is alpha (y_bar_i - eta) > 0)
    eta = min(-1.0, 2.0 * float(y_bar.min()))
    W1 = np.zeros((d1, dx))
    W1[0] = alpha * w_bar[:dx]
    b1 = np.full(d1, -alpha * eta)
    b1[0] = alpha * (w_bar[dx] - eta)
    W2 = np.zeros((1, d1))
    W2[0, 0] = 1.0 / (alpha * s_pos)
    mlp = MLP([dx, d1, 1], activation="leaky", slopes=(s_pos, s_neg), loss="squared", reduction="sum")
    local_min = mlp.pack([(W1, b1), (W2, np.array([eta]))])

    return mlp, local_min, w_bar, l0, eta


def theorem1(X, y, *, d1: int = 2, slopes=(1.1, 1.0), alpha: float = 1.0, j0="best", gamma=None) -> Theorem1:
    """Build the Theorem-1 spurious local minimum and the strictly better point.

    Parameters
    ----------
    X : array (m, dx)
        Distinct inputs (C1.2).
    y : array (m,)
        Targets that no affine map fits (C1.1).
    d1 : int
        Hidden width, >= 2 (C1.4).
    slopes : (float, float)
        (s+, s-) with s+ > 0, s- >= 0 and s+ != s- (C1.3); (1, 0) is ReLU.
    alpha : float
        The scale alpha > 0 of Step 1 (every alpha gives a local minimum of the same risk).
    j0 : "best", "first" or int
        Which element of J to use (1-based, after sorting by fitted value): the one with the largest decrease,
        the smallest, or a given one.
    gamma : float, optional
        |gamma| of Step 2, in (0, (y_bar_{j0+1} - y_bar_{j0}) / 4]; default min{gap / 4, |2R / (m c)|}, the best
        allowed. Its sign is always sign(R (s+ - s-)).

    Returns
    -------
    Theorem1

    Raises
    ------
    ValueError
        If a condition of the theorem fails (naming it), or if J is empty: that case needs the perturbation
        argument of the paper's Appendix A2, which is not implemented.
    """
    mlp, local_min, w_bar, l0, eta = theorem1_minimum(X, y, d1=d1, slopes=slopes, alpha=alpha)
    X = float_array(X, "X", np.float64, ndim=2)
    m, dx = X.shape
    y = float_array(y, "y", np.float64).reshape(m)
    d1 = mlp.shapes[0][0]
    s_pos, s_neg = mlp.slopes
    alpha = float(alpha)
    _, y_bar = _affine_fit(X, y)  # the accurate fitted values (X~ w_bar loses digits when X is offset)

    # Step 2: the index set J in the order of increasing fitted values
    order = np.argsort(y_bar, kind="stable")
    ys, ts = y_bar[order], y[order]
    partial = np.cumsum(ys - ts)[:-1]
    gaps = np.diff(ys)
    # "!= 0" and "<" up to rounding: partial sums of residuals carry about m eps |y| of error
    tol_sum = 64 * np.finfo(float).eps * m * max(np.max(np.abs(ys)), np.max(np.abs(ts)), 1.0)
    tol_gap = 64 * np.finfo(float).eps * max(np.max(np.abs(ys)), 1.0)
    J = tuple(int(j) + 1 for j in np.flatnonzero((np.abs(partial) > tol_sum) & (gaps > tol_gap)))
    if not J:
        raise ValueError(
            "J is empty (no split of the sorted fitted values with a nonzero partial residual sum): the strictly "
            "better point then needs the perturbation argument of the paper's Appendix A2, which optcore does "
            "not implement; the Step-1 local minimum alone is available from theorem1_minimum()"
        )
    c = (s_pos - s_neg) / (s_pos + s_neg)

    def decrease(j):
        R = float(partial[j - 1])
        g = min(gaps[j - 1] / 4, abs(2 * R / (m * c)))
        return 2 * abs(c * g * R) - 0.5 * m * c * c * g * g

    if j0 == "best":
        j0 = max(J, key=decrease)
    elif j0 == "first":
        j0 = J[0]
    else:
        j0 = integer(j0, "j0", minimum=1, maximum=m - 1)
        if j0 not in J:
            raise ValueError(f"j0 must be an element of J = {list(J)} (1-based, sorted by fitted value), got {j0}")
    R = float(partial[j0 - 1])
    gap = float(gaps[j0 - 1])
    if gamma is None:
        magnitude = min(gap / 4, abs(2 * R / (m * c)))
    else:
        magnitude = positive_float(gamma, "gamma")
        if magnitude > gap / 4:
            raise ValueError(f"|gamma| must be <= (y_bar_(j0+1) - y_bar_j0) / 4 = {gap / 4:.6g}, got {magnitude}")
    gamma = math.copysign(magnitude, R * (s_pos - s_neg))
    beta = 0.5 * (ys[j0 - 1] + ys[j0])
    W1b = np.zeros((d1, dx))
    W1b[0], W1b[1] = w_bar[:dx], -w_bar[:dx]
    b1b = np.zeros(d1)
    b1b[0], b1b[1] = w_bar[dx] - beta + gamma, -w_bar[dx] + beta + gamma
    W2b = np.zeros((1, d1))
    W2b[0, 0], W2b[0, 1] = 1.0 / (s_pos + s_neg), -1.0 / (s_pos + s_neg)
    better = mlp.pack([(W1b, b1b), (W2b, np.array([beta]))])
    better_risk = l0 - 2 * c * gamma * R + 0.5 * m * c * c * gamma * gamma
    return Theorem1(
        mlp=mlp,
        local_min=local_min,
        better=better,
        ls_weights=w_bar,
        ls_risk=l0,
        better_risk=better_risk,
        j0=int(j0),
        gamma=gamma,
        c=c,
        R=R,
        alpha=alpha,
        eta=eta,
        J=J,
    )


def pattern_radius(mlp: MLP, params, X) -> float:
    """A radius within which no hidden pre-activation changes sign on the data.

    Changing a unit's incoming (w_j, b_j) by at most rho in Euclidean norm moves its pre-activation at x_i by at
    most rho |[x_i; 1]|, so min_{i,j} |z_ij| / max_i |[x_i; 1]| is such a radius. Inside it a two-slope network is
    one fixed affine map of its input per unit, which is what makes the Theorem-1 certificate exact.
    """
    if len(mlp.shapes) != 2 or not mlp.bias:
        raise ValueError("pattern_radius needs a one-hidden-layer MLP with biases")
    (W1, b1), _ = mlp.unpack(np.asarray(params, dtype=np.float64))
    X = float_array(X, "X", np.float64, ndim=2)
    Z = X @ W1.T + b1
    # max_i |[x_i; 1]|, scaled so that the squares neither overflow (inputs ~1e200) nor underflow
    s = max(float(np.max(np.abs(X))), 1.0)
    return float(np.min(np.abs(Z)) / (s * np.max(np.sqrt(np.sum((X / s) ** 2, axis=1) + (1.0 / s) ** 2))))


def _slopes(slopes):
    try:
        s_pos, s_neg = (float(s) for s in slopes)
    except (TypeError, ValueError):
        raise TypeError(f"slopes must be a pair of numbers (s+, s-), got {slopes!r}") from None
    if not (math.isfinite(s_pos) and math.isfinite(s_neg)) or s_pos <= 0 or s_neg < 0:
        raise ValueError(f"slopes must satisfy s+ > 0 and s- >= 0 (condition C1.3), got {slopes!r}")
    if s_pos == s_neg:
        raise ValueError(f"slopes must differ (s+ != s-): with s+ = s- the network is linear, got {slopes!r}")
    return s_pos, s_neg


# --- Theorem 2 ------------------------------------------------------------------------------------------------------
#: the data set of Theorem 2: x3 is the midpoint of x1 and x2, and no affine map fits y
THEOREM2_X = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
THEOREM2_Y = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Theorem2:
    """The Theorem-2 local minimum (risk 1/3) and the zero-risk point on the three-point data set.

    Attributes
    ----------
    net : ShallowNet
        The 2-2-1 network with the activation, on ``THEOREM2_X``, ``THEOREM2_Y``.
    local_min, global_min : ndarray (9,)
        Flat parameters: W1 = 0, b1 = (v1, v2), W2 = (u1, u2), b2 = 0; and W1 = [[v1, v2], [v3, v4]], b1 = 0,
        W2 = t (h(v3), -h(v1)), b2 = 0.
    local_tuple : (v1, v2, u1, u2)
    global_tuple : (v1, v2, v3, v4)
    conditions : dict
        The left-hand sides of C2.1-C2.7 (see :func:`theorem2_conditions`).
    """

    net: ShallowNet
    local_min: np.ndarray
    global_min: np.ndarray
    local_tuple: tuple
    global_tuple: tuple
    conditions: dict


def theorem2_conditions(activation, local_tuple, global_tuple) -> dict:
    """Evaluate conditions C2.1-C2.7 of Theorem 2 for given tuples.

    Parameters
    ----------
    activation : str or Activation
    local_tuple : (v1, v2, u1, u2)
        For C2.3-C2.7 (the local minimum).
    global_tuple : (v1, v2, v3, v4)
        For C2.1-C2.2 (the zero-risk point).

    Returns
    -------
    dict
        ``C2.1``: h(v1) h(v4) - h(v2) h(v3) (must be 0); ``C2.2``: h(v1) h((v3+v4)/2) - h(v3) h((v1+v2)/2)
        (must be != 0); ``C2.3``: u1 h(v1) + u2 h(v2) - 1/3 (must be 0); ``C2.4``: whether v1, v2 avoid the kinks;
        ``C2.6``: (u1 h'(v1))^2 + u1 h''(v1)/3 (> 0); ``C2.7``: the right side minus the left side (> 0);
        ``ok``: per condition, whether it holds (relative tolerance 1e-12 on the equalities, strict
        inequalities beyond a relative 1e-12); ``holds``: all of them. C2.5 (analyticity bounds) holds
        for every activation of :mod:`.activations` away from its kinks.
    """
    act = get_activation(activation)
    v1, v2, u1, u2 = (_finite(t, "local_tuple") for t in _tuple4(local_tuple, "local_tuple"))
    g1, g2, g3, g4 = (_finite(t, "global_tuple") for t in _tuple4(global_tuple, "global_tuple"))

    def h(x):
        return float(act.h(np.float64(x)))

    def dh(x):
        return float(act.dh(np.float64(x)))

    def d2h(x):
        return float(act.d2h(np.float64(x)))

    a1 = (u1 * dh(v1)) ** 2 + u1 * d2h(v1) / 3
    a2 = (u2 * dh(v2)) ** 2 + u2 * d2h(v2) / 3
    b = u1 * dh(v1) * u2 * dh(v2)
    out = {
        "C2.1": h(g1) * h(g4) - h(g2) * h(g3),
        "C2.2": h(g1) * h((g3 + g4) / 2) - h(g3) * h((g1 + g2) / 2),
        "C2.3": u1 * h(v1) + u2 * h(v2) - 1.0 / 3.0,
        "C2.4": all(v not in act.kinks for v in (v1, v2)),
        "C2.6": a1,
        "C2.7": a1 * a2 - b * b,
    }
    scale1 = max(abs(h(g1) * h(g4)), abs(h(g2) * h(g3)), 1e-300)
    scale6 = max((u1 * dh(v1)) ** 2, abs(u1 * d2h(v1)) / 3, 1e-300)
    scale7 = max(abs(a1 * a2), b * b, 1e-300)
    # strict inequalities must hold beyond rounding: C2.7 holds with equality (up to rounding) when h'' = 0
    out["ok"] = {
        "C2.1": abs(out["C2.1"]) <= 1e-12 * scale1,
        "C2.2": abs(out["C2.2"]) > 1e-9 * scale1,
        "C2.3": abs(out["C2.3"]) <= 1e-12 * max(abs(u1 * h(v1)), abs(u2 * h(v2)), 1.0),
        "C2.4": out["C2.4"],
        "C2.6": a1 > 1e-12 * scale6,
        "C2.7": out["C2.7"] > 1e-12 * scale7,
    }
    out["holds"] = all(out["ok"].values())
    return out


def theorem2(activation="tanh", *, local_tuple=None, global_tuple=None) -> Theorem2:
    """Build the Theorem-2 local minimum (risk 1/3) and zero-risk point for a smooth activation.

    Parameters
    ----------
    activation : str or Activation
        One of tanh, sigmoid, arctan, elu, selu, softplus, or an :class:`Activation`.
    local_tuple : (v1, v2, u1), optional
        Given (v1, v2, u1); u2 is always solved from C2.3, u2 = (1/3 - u1 h(v1)) / h(v2), because any rounding
        of u2 breaks criticality. Default: found by a deterministic search over a grid, keeping the tuple with
        the largest relative margin in C2.7.
    global_tuple : (v1, v2, v3), optional
        Given (v1, v2, v3); v4 is solved from C2.1, v4 = h^{-1}(h(v2) h(v3) / h(v1)). Default: the first grid
        tuple for which v4 exists and C2.2 holds with a clear margin.

    Returns
    -------
    Theorem2

    Raises
    ------
    ValueError
        If the given tuples violate a condition (naming it) or the search finds none.
    """
    act = get_activation(activation)
    local = _find_local_tuple(act) if local_tuple is None else _solve_u2(act, *_tuple3(local_tuple, "local_tuple"))
    glob = _find_global_tuple(act) if global_tuple is None else _solve_v4(act, *_tuple3(global_tuple, "global_tuple"))
    conditions = theorem2_conditions(act, local, glob)
    if not conditions["holds"]:
        failed = [name for name, ok in conditions["ok"].items() if not ok]
        raise ValueError(f"the tuples violate condition(s) {', '.join(failed)} of Theorem 2: {conditions}")
    net = ShallowNet(THEOREM2_X, THEOREM2_Y, d1=2, activation=act)
    v1, v2, u1, u2 = local
    local_min = net.pack(np.zeros((2, 2)), [v1, v2], [u1, u2], 0.0)
    g1, g2, g3, g4 = glob
    h = act.h
    t = 1.0 / (h(g3) * h((g1 + g2) / 2) - h(g1) * h((g3 + g4) / 2))
    global_min = net.pack([[g1, g2], [g3, g4]], [0.0, 0.0], [t * h(g3), -t * h(g1)], 0.0)
    return Theorem2(net, local_min, global_min, tuple(local), tuple(glob), conditions)


def _solve_u2(act: Activation, v1, v2, u1):
    h2 = float(act.h(v2))
    if h2 == 0:
        raise ValueError(f"h(v2) = 0 at v2 = {v2}: u2 cannot be solved from C2.3")
    return (v1, v2, u1, (1.0 / 3.0 - u1 * float(act.h(v1))) / h2)


def _solve_v4(act: Activation, v1, v2, v3):
    h1 = float(act.h(v1))
    if h1 == 0:
        raise ValueError(f"h(v1) = 0 at v1 = {v1}: v4 cannot be solved from C2.1")
    return (v1, v2, v3, act.invert(float(act.h(v2)) * float(act.h(v3)) / h1))


_GRID = (-2.0, -1.5, -1.0, -0.7, -0.4, 0.3, 0.6, 1.0, 1.5, 2.0)
_U_GRID = (-6.0, -3.0, -1.5, -0.7, 0.7, 1.5, 3.0, 6.0)


def _find_local_tuple(act: Activation):
    best, best_margin = None, 0.0
    for v1, v2, u1 in itertools.product(_GRID, _GRID, _U_GRID):
        if v1 == v2 or float(act.h(v2)) == 0:
            continue
        t = _solve_u2(act, v1, v2, u1)
        if abs(t[3]) > 20:
            continue
        c = theorem2_conditions(act, t, (1.0, 1.0, 1.0, 1.0))
        if not (c["ok"]["C2.4"] and c["ok"]["C2.6"] and c["ok"]["C2.7"]):
            continue
        a1 = c["C2.6"]
        a2 = (t[3] * float(act.dh(t[1]))) ** 2 + t[3] * float(act.d2h(t[1])) / 3
        margin = c["C2.7"] / (a1 * a2)  # in (0, 1]: 1 - cos^2 of the angle in the Schur-complement test
        margin *= min(a1, a2) / max(a1, a2)  # prefer balanced curvatures
        if margin > best_margin:
            best, best_margin = t, margin
    if best is None:
        raise ValueError(f"no (v1, v2, u1, u2) on the search grid satisfies C2.3-C2.7 for {act.name}")
    return best


def _find_global_tuple(act: Activation):
    for v1, v2, v3 in itertools.product(_GRID, _GRID, _GRID):
        if float(act.h(v1)) == 0:
            continue
        try:
            t = _solve_v4(act, v1, v2, v3)
        except ValueError:
            continue
        c = theorem2_conditions(act, (1.0, 1.0, 1.0, 1.0), t)
        scale = max(abs(float(act.h(v1))), abs(float(act.h(v3))), 1e-300) ** 2
        if abs(c["C2.2"]) > 1e-2 * scale and abs(t[3]) < 10:
            return t
    raise ValueError(f"no (v1, v2, v3, v4) on the search grid satisfies C2.1-C2.2 for {act.name}")


def _tuple4(t, name):
    t = tuple(t)
    if len(t) != 4:
        raise ValueError(f"{name} must have four entries, got {len(t)}")
    return t


def _tuple3(t, name):
    try:
        t = tuple(float(v) for v in t)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be three numbers, got {t!r}") from None
    if len(t) != 3 or not all(math.isfinite(v) for v in t):
        raise ValueError(f"{name} must be three finite numbers, got {t!r}")
    return t


def _finite(v, name):
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise TypeError(f"{name} entries must be numbers, got {v!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} entries must be finite, got {v}")
    return v
