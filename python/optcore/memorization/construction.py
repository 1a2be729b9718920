"""Explicit 3-layer ReLU networks that memorize N arbitrary points with widths about sqrt(N) (THEORY.md 2.2).

The construction (the "zigzag", derived for optcore from Yun, Sra and Jadbabaie's counting, NeurIPS 2019) works in
exact rational arithmetic (:class:`fractions.Fraction`) and is checked there; float64 weights are exported for
:class:`optcore.nn.MLP`. In hard-tanh form (htanh(t) = min(1, max(-1, t))), with d1 ramps and d2 = 2q zigzag units:

1. project the inputs on a random integer vector u until the projections z_i are distinct, sort them, and cut
   them into S = ceil(N / d2) <= d1 consecutive segments of at most d2 points;
2. layer 1: ramp j is -1 left of segment j, rises linearly across it, +1 right of it; the first ramp starts and
   the last one ends a margin outside the projections (THEORY.md 2.2 takes 1; here the mean gap between
   projections, so that the construction scales with the inputs and float64 holds it equally well at any scale);
3. layer 2: each unit is a continuous piecewise-linear function of z (knot values K_0..K_S at the segment
   boundaries), zigzagging between <= -1 and >= +1 once per segment; pair r owns two points of every segment,
   where one unit passes exactly through (z, y) and the other is saturated, so the pair adds 1 + y at its own
   points and 0 elsewhere;
4. output: the sum of the hard-tanh units, minus 1.

htanh(t) = ReLU(t + 1) - ReLU(t - 1) - 1 turns it into a ReLU network with widths D1 = 2 d1 and D2 = 2 d2, so
N <= D1 D2 / 4 points (4 floor(D1/4) floor(D2/(4 dy)) >= N with dy outputs).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .._validation import integer
from .export import FLOAT64_MAX, to_float, to_float64
from .points import exact_float64, memorization_data

F = Fraction


@dataclass
class Construction:
    """A memorizing network in exact arithmetic, with its float64 export.

    Attributes
    ----------
    layers : list of (W, b)
        The ReLU network's layers as lists of lists of Fractions (W: out x in).
    widths : list of int
        (dx, D1, D2, dy) actually used (unused units of the requested widths are left out).
    projection : ndarray of int
        The integer vector u.
    """

    layers: list
    widths: list
    projection: np.ndarray

    def float_layers(self, dtype=np.float64):
        """The layers as NumPy arrays of ``dtype`` (float64 or float32; each value rounded to float64 first).

        Raises
        ------
        ValueError
            When a weight or bias has no full-precision value in ``dtype`` (float64: magnitude above 1.8e308, or
            nonzero below 2.2e-308; float32: 3.4e38 and 1.2e-38): the message names it. The first layer's weights
            scale like 1 / (spread of the inputs' projections), the second's like spread / (smallest gap), so
            subnormal or huge inputs, or nearly equal ones, can build a valid exact network the format cannot hold.
        """
        out = []
        for idx, (W, b) in enumerate(self.layers, start=1):
            Wf = np.array(
                [
                    [to_float(w, f"layer {idx} weight [{r}, {c}]", dtype) for c, w in enumerate(row)]
                    for r, row in enumerate(W)
                ],
                dtype=dtype,
            )
            bf = np.array([to_float(v, f"layer {idx} bias [{r}]", dtype) for r, v in enumerate(b)], dtype=dtype)
            out.append((Wf.reshape(len(W), -1), bf))
        return out

    def max_weight(self) -> float:
        """The largest absolute weight or bias (``ValueError`` when it exceeds the float64 range)."""
        largest = max(abs(v) for W, b in self.layers for row in [*W, b] for v in row)
        if largest > FLOAT64_MAX:
            to_float64(largest, "the largest weight")  # raises, naming the range
        return float(largest)

    def to_mlp(self, *, dtype=np.float64):
        """The network as an :class:`optcore.nn.MLP` (ReLU, biases, squared loss) and its flat float parameters.

        ``ValueError`` when a weight is outside the range of ``dtype`` (see :meth:`float_layers`).
        """
        from ..nn import MLP

        net = MLP(self.widths, activation="relu", bias=True, loss="squared", dtype=dtype)
        return net, net.pack(self.float_layers(net.dtype))

    def exact_outputs(self, X) -> list[list[Fraction]]:
        """The network's outputs at the rows of X, in exact rational arithmetic (X converted exactly)."""
        X = exact_float64(X, "X", ndim=2)
        if X.shape[1] != self.widths[0]:
            raise ValueError(f"X must have shape (N, {self.widths[0]}), got {X.shape}")
        out = []
        for x in X:
            a = [F(float(v)) for v in x]
            for idx, (W, b) in enumerate(self.layers):
                z = [sum((w * v for w, v in zip(row, a, strict=True)), F(0)) + bb for row, bb in zip(W, b, strict=True)]
                a = z if idx == len(self.layers) - 1 else [max(F(0), v) for v in z]
            out.append(a)
        return out


def outer_margin(zs: list[Fraction]) -> Fraction:
    """How far outside the sorted projections ``zs`` the first and the last ramp start and end.

    Any margin > 0 is exact; this one scales with the data (the mean gap between projections; |z| for a single
    nonzero point), so that scaling the inputs by c scales the construction's knots by c and leaves its float64
    behaviour unchanged. A fixed margin of 1 made the float64 export lose digits with the scale: tiny inputs
    were resolved against an offset of 1, huge ones had ramps of width ~1 at positions ~1e12.
    """
    if len(zs) > 1:
        return (zs[-1] - zs[0]) / (len(zs) - 1)
    return abs(zs[0]) if zs[0] != 0 else F(1)


def _htanh(t):
    return max(F(-1), min(F(1), t))


def _projection(
    X: list[list[Fraction]], Xf: np.ndarray, rng, *, candidates: int = 64
) -> tuple[np.ndarray, list[Fraction]]:
    """An integer vector u with distinct projections z_i = u'x_i.

    It is chosen among random candidates for the largest smallest gap between consecutive projections relative to
    their range: tiny gaps mean steep ramps and large weights (two nearly equal projections can push weights past
    1e16).
    """
    dx = Xf.shape[1]
    # the screening score is scale-free: divide by the largest magnitude so that inputs near 1e308 do not overflow
    # (division, not a reciprocal: subnormal inputs have no finite reciprocal)
    scale = float(np.max(np.abs(Xf)))
    Xf = Xf / scale if scale > 0 else Xf
    best, best_score = None, -1.0
    for trial in range(candidates):
        bound = 8 ** (1 + trial % 4)  # small and large integers: on grid-valued inputs small ones collide
        u = rng.integers(-bound, bound + 1, size=dx)
        if not u.any():
            continue
        z = np.sort(Xf @ u)
        spread = z[-1] - z[0]
        score = float(np.min(np.diff(z)) / spread) if z.size > 1 and spread > 0 else (1.0 if z.size == 1 else 0.0)
        if score > best_score:
            best, best_score = u, score
    for u in ([best] if best is not None else []) + [rng.integers(-64, 65, size=dx) for _ in range(200)]:
        z = [sum((F(int(ui)) * xi for ui, xi in zip(u, x, strict=True)), F(0)) for x in X]
        if len(set(z)) == len(z):  # the float screening is only a heuristic: distinctness is checked exactly
            return u, z
    if len(set(map(tuple, X))) < len(X):  # callers merge equal inputs (points.py): this is a bug, not bad input
        raise RuntimeError("_projection was given equal inputs: no projection separates them")
    raise RuntimeError("could not find a projection separating the inputs")


def _unit_knots(segments, anchors, ascending_first: bool) -> list[Fraction]:
    """Knot values K_0..K_S of one zigzag unit.

    ``segments[j]`` holds the lambda positions (in (0, 1)) of segment j's points; ``anchors[j]`` = (lambda*, t*,
    ascending). The unit is affine in lambda on each segment, passes through (lambda*, t*), and is <= -1 before /
    >= +1 after the anchor when ascending (the reverse when descending) at every other point of the segment.
    K_j = c_j + mu_j K_0; every constraint bounds K_0 on one side; K_0 is the tightest bound with a slack of 1.
    """
    c, mu = F(0), F(1)
    lower, upper = [], []
    coeffs = []
    for lambdas, (lam, t, ascending) in zip(segments, anchors, strict=True):
        # sigma = (t - K_prev) / lam with K_prev = c + mu K0:  sigma = alpha + beta K0
        alpha, beta = (t - c) / lam, -mu / lam
        for lp in lambdas:
            if lp == lam:
                continue
            if ascending:
                need = (1 + t) / (lam - lp) if lp < lam else (1 - t) / (lp - lam)  # sigma >= need
                sign = 1
            else:
                need = -((1 - t) / (lam - lp) if lp < lam else (1 + t) / (lp - lam))  # sigma <= need
                sign = -1
            # sign * (alpha + beta K0) >= sign * need
            if beta == 0:
                if sign * alpha < sign * need:
                    raise RuntimeError("infeasible zigzag segment")  # cannot happen: beta never vanishes
                continue
            bound = (need - alpha) / beta
            if (sign > 0) == (beta > 0):
                lower.append(bound)
            else:
                upper.append(bound)
        coeffs.append((alpha, beta, lam, t))
        c, mu = t + (t - c) * (1 - lam) / lam, -mu * (1 - lam) / lam
    if lower and upper:
        lo, hi = max(lower), min(upper)
        if not lo < hi:
            raise RuntimeError("zigzag constraints are infeasible")
        # the feasible K0 of smallest magnitude, kept a little inside the interval: large knots mean large weights
        slack = min(F(1), (hi - lo) / 4)
        K0 = min(max(F(0), lo + slack), hi - slack)
    elif upper:
        K0 = min(upper) - 1
    elif lower:
        K0 = max(lower) + 1
    else:
        K0 = F(-1) if ascending_first else F(1)
    knots = [K0]
    for alpha, beta, lam, t in coeffs:
        sigma = alpha + beta * K0
        knots.append(t + sigma * (1 - lam))
    return knots


def _segment_anchors(lams: list[Fraction], values: list[Fraction], r: int, odd: bool):
    """(ascending anchor, descending anchor) of pair r (1-based) in one segment.

    Each anchor is (lambda*, t*, index of the real point or None): virtual anchors where the segment has too few
    points.
    """
    m = len(lams)
    if odd:
        A, B = 2 * r - 1, 2 * r
    else:
        A, B = m - 2 * r + 1, m - 2 * r + 2
    has_a, has_b = 1 <= A <= m, 1 <= B <= m
    if has_a and has_b:
        return (lams[A - 1], values[A - 1], A - 1), (lams[B - 1], values[B - 1], B - 1)
    if has_b:  # missing A: ascend just left of B
        left = lams[B - 2] if B >= 2 else F(0)
        return ((left + lams[B - 1]) / 2, F(0), None), (lams[B - 1], values[B - 1], B - 1)
    if has_a:  # missing B: descend just right of A
        right = lams[A] if A < m else F(1)
        return (lams[A - 1], values[A - 1], A - 1), ((lams[A - 1] + right) / 2, F(0), None)
    last = lams[-1] if lams else F(0)
    mid = (last + 1) / 2 if odd else lams[0] / 2 if lams else F(1, 2)
    # both virtual: place them after (odd) or before (even) all points, ascending one first
    return (mid, F(0), None), ((mid + (1 if odd else lams[0])) / 2 if lams else F(3, 4), F(0), None)


def memorize(X, Y, *, d1: int | None = None, d2: int | None = None, seed=0) -> Construction:
    """A 3-layer ReLU network (widths dx -> D1 -> D2 -> dy) with f(x_i) = y_i exactly, in rational arithmetic.

    Parameters
    ----------
    X : array (N, dx)
        Finite inputs. Rows equal as numbers (0.0 and -0.0 included) are one point: merged when their labels are
        equal, a ``ValueError`` when they differ.
    Y : array (N,) or (N, dy)
        Labels in [-1, 1].
    d1, d2 : int, optional
        ReLU widths D1 and D2 to respect; must satisfy 2 floor(D1/2) floor(D2/(4 dy)) >= N (N distinct inputs):
        floor(D1/2) ramps times 2 floor(D2/(4 dy)) points per ramp. That is :func:`sufficient_count` when D1 is a
        multiple of 4, and more when D1 = 2 mod 4. Default: the widths of :func:`minimal_widths`.
    seed : int
        Seed of the random integer projection.

    Returns
    -------
    Construction
        Exact for any finite inputs; its float64 export (:meth:`Construction.float_layers`) raises a
        ``ValueError`` when a weight falls outside the float64 range (subnormal or huge inputs).

    Raises
    ------
    ValueError
        Bad inputs or labels (see :func:`optcore.memorization.points.memorization_data`), equal inputs with
        different labels, or widths too small for N.
    """
    X, Y = memorization_data(X, Y)
    N, dx = X.shape
    dy = Y.shape[1]
    if d1 is None or d2 is None:
        m1, m2 = minimal_widths(N, dy=dy)
        d1 = m1 if d1 is None else d1
        d2 = m2 if d2 is None else d2
    D1, D2 = integer(d1, "d1", minimum=2), integer(d2, "d2", minimum=4)
    ramps, pairs = D1 // 2, D2 // (4 * dy)  # hard-tanh ramps, zigzag pairs per output
    capacity = ramps * 2 * pairs  # S <= ramps segments of 2 pairs points
    if pairs < 1 or capacity < N:
        raise ValueError(
            f"widths D1 = {D1}, D2 = {D2} memorize at most {capacity if pairs else 0} points with dy = {dy}; "
            f"N = {N} distinct inputs need e.g. (D1, D2) = {minimal_widths(N, dy=dy)}"
        )
    rng = np.random.default_rng(seed)
    Xq = [[F(float(v)) for v in row] for row in X]
    Yq = [[F(float(v)) for v in row] for row in Y]
    u, z = _projection(Xq, X, rng)
    order = sorted(range(N), key=lambda i: z[i])
    margin = outer_margin([z[i] for i in order])
    ramps_z, units = [], []
    for k in range(dy):
        ramps_z, units_k = zigzag_layer(
            [z[i] for i in order],
            [Yq[i][k] for i in order],
            pairs=pairs,
            left=z[order[0]] - margin,
            right=z[order[-1]] + margin,
        )
        units.append(units_k)
    # layer 1 (ReLU form): ramp j = htanh(a_j z + c_j) = P_j - Q_j - 1, z = u'x
    W1, b1 = [], []
    for a, c in ramps_z:
        row = [a * int(ui) for ui in u]
        W1 += [row, list(row)]
        b1 += [c + 1, c - 1]
    # layer 2: the zigzag units of every output coordinate, two ReLUs each; layer 3 sums them
    W2, b2, W3, b3 = [], [], [[] for _ in range(dy)], []
    for k in range(dy):
        for Wj, b in units[k]:
            row = [v for w in Wj for v in (w, -w)]  # s = sum_j Wj (P_j - Q_j) + b
            for shift in (F(1), F(-1)):  # htanh(s) = ReLU(s + 1) - ReLU(s - 1) - 1
                W2.append(list(row))
                b2.append(b + shift)
                for kk in range(dy):
                    W3[kk].append(F(1 if shift > 0 else -1) if kk == k else F(0))
        b3.append(-F(len(units[k])) - 1)
    layers = [(W1, b1), (W2, b2), (W3, b3)]
    return Construction(layers=layers, widths=[dx, len(W1), len(W2), dy], projection=u)


def zigzag_layer(zs, ys, *, pairs: int, left, right, saturate_outside: bool = False):
    """The ramps and zigzag units that memorize sorted projections ``zs`` (distinct) with labels ``ys``.

    Segments of 2 ``pairs`` consecutive points; the first ramp starts at ``left`` and the last ends at ``right``
    (both outside the points). Returns ``ramps``, a list of (a_j, c_j) with ramp j = htanh(a_j z + c_j), and
    ``units``, a list of (W, b) with unit pre-activation s = sum_j W_j (P_j - Q_j) + b, where P_j - Q_j - 1 is ramp j
    in ReLU form. The units' hard-tanh values sum to 1 + y at each point and to 0 wherever all ramps saturate in
    the same way; with ``saturate_outside`` the units are also forced to saturate left of ``left`` and right of
    ``right``, so that points outside [left, right] see 0 (the deep construction chains such blocks).
    """
    per = 2 * pairs
    segs = [list(range(s, min(s + per, len(zs)))) for s in range(0, len(zs), per)]
    S = len(segs)
    knots_m = [left]
    for j in range(S - 1):
        knots_m.append((zs[segs[j][-1]] + zs[segs[j + 1][0]]) / 2)
    knots_m.append(right)
    lams = [[(zs[i] - knots_m[j]) / (knots_m[j + 1] - knots_m[j]) for i in segs[j]] for j in range(S)]
    ramps = []
    for j in range(S):
        width = knots_m[j + 1] - knots_m[j]
        ramps.append((F(2) / width, -2 * knots_m[j] / width - 1))
    constraint_lams = [list(row) for row in lams]
    if saturate_outside:  # phantom points at the block's ends: the units must saturate there too
        constraint_lams[0] = [F(0), *constraint_lams[0]]
        constraint_lams[-1] = [*constraint_lams[-1], F(1)]
    units = []
    for r in range(1, pairs + 1):
        anchors_a, anchors_b = [], []
        for j in range(S):
            odd = j % 2 == 0  # segment j + 1 is odd in 1-based counting
            asc, desc = _segment_anchors(lams[j], [ys[i] for i in segs[j]], r, odd)
            # unit a ascends in odd segments, unit b in even ones
            (anchors_a if odd else anchors_b).append((asc[0], asc[1], True))
            (anchors_b if odd else anchors_a).append((desc[0], desc[1], False))
        for anchors in (anchors_a, anchors_b):
            K = _unit_knots(constraint_lams, anchors, anchors[0][2])
            # s = sum_j Wj g_j + b with Wj = (K_j - K_{j-1}) / 2, b = (K_0 + K_S) / 2; g_j = P_j - Q_j - 1
            Wj = [(K[j + 1] - K[j]) / 2 for j in range(S)]
            units.append((Wj, (K[0] + K[S]) / 2 - sum(Wj, F(0))))
    return ramps, units


def sufficient_count(d1: int, d2: int, *, dy: int = 1) -> int:
    """Points the construction memorizes with ReLU widths d1, d2: 4 floor(d1/4) floor(d2/(4 dy)) (THEORY.md 2.1)."""
    d1, d2 = integer(d1, "d1", minimum=0), integer(d2, "d2", minimum=0)
    dy = integer(dy, "dy", minimum=1)
    return 4 * (d1 // 4) * (d2 // (4 * dy))


def necessary_violation(d1: int, d2: int, N: int) -> bool:
    """True when 2 d1 d2 + d2 + 2 < N: then some N-point data set cannot be memorized (dy = 1, THEORY.md 2.1)."""
    d1, d2 = integer(d1, "d1", minimum=0), integer(d2, "d2", minimum=0)
    N = integer(N, "N", minimum=1)
    return 2 * d1 * d2 + d2 + 2 < N


def minimal_widths(N: int, *, dy: int = 1) -> tuple[int, int]:
    """The ReLU widths (D1, D2) with fewest hidden units D1 + D2 such that sufficient_count(D1, D2, dy) >= N.

    Ties go to the more balanced pair (smaller max(D1, D2)), then to the smaller D1. The minimum has D1 = 4a and
    D2 = 4 b dy (other widths only waste units) with a b >= ceil(N / 4); for each a the best b is
    ceil(ceil(N / 4) / a), and a larger than the best total so far cannot help, so the search is O(sqrt(N dy)).
    """
    N = integer(N, "N", minimum=1)
    dy = integer(dy, "dy", minimum=1)
    need = -(-N // 4)  # 4 a b >= N  <=>  a b >= ceil(N / 4)
    best, best_key = None, None
    a = 1
    while best_key is None or 4 * a < best_key[0]:  # D1 = 4a alone at least the best total: no better pair left
        D1, D2 = 4 * a, 4 * -(-need // a) * dy
        key = (D1 + D2, max(D1, D2), D1)
        if best_key is None or key < best_key:
            best, best_key = (D1, D2), key
        a += 1
    return best
