"""Equilibria of zero-sum matrix games from linear programs (scipy's HiGHS), with a uniqueness check.

The game is max_{x in Delta_n} min_{y in Delta_m} x^T A y (x the row player, maximizing). Its value v and optimal
strategies solve two linear programs: max v s.t. A^T x >= v 1 (x) and min u s.t. A y <= u 1 (y), with v = u.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import float_array

#: Entries above this count as played (the support), for the polishing solve and the uniqueness certificate.
SUPPORT_TOL = 1e-9


@dataclass(frozen=True)
class Equilibrium:
    """A Nash equilibrium of the zero-sum game max_x min_y x^T A y.

    Attributes
    ----------
    x : (n,) array
        Optimal strategy of the row (maximizing) player.
    y : (m,) array
        Optimal strategy of the column (minimizing) player.
    value : float
        The value of the game, x^T A y.
    unique : bool
        True when (x, y) is the only equilibrium (certified, see :func:`solve_game`).
    interior : bool
        True when every action of both players is played (x > 0 and y > 0).
    """

    x: np.ndarray
    y: np.ndarray
    value: float
    unique: bool
    interior: bool

    @property
    def support_x(self) -> np.ndarray:
        """Indices of the row player's actions played at the equilibrium."""
        return np.flatnonzero(self.x > SUPPORT_TOL)

    @property
    def support_y(self) -> np.ndarray:
        """Indices of the column player's actions played at the equilibrium."""
        return np.flatnonzero(self.y > SUPPORT_TOL)


def _linprog():
    from scipy.optimize import linprog  # scipy is imported only when an equilibrium is needed

    return linprog


def _solve_row_player(A: np.ndarray) -> tuple[np.ndarray, float]:
    """max v s.t. (A^T x)_j >= v, sum x = 1, x >= 0 (HiGHS)."""
    n, m = A.shape
    c = np.zeros(n + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-A.T, np.ones((m, 1))])
    A_eq = np.concatenate([np.ones(n), [0.0]])[None, :]
    res = _linprog()(c, A_ub=A_ub, b_ub=np.zeros(m), A_eq=A_eq, b_eq=[1.0],
                     bounds=[(0, None)] * n + [(None, None)], method="highs")
    if res.status != 0:  # pragma: no cover - a finite matrix game always has a solution
        raise RuntimeError(f"the equilibrium LP failed: {res.message}")
    return np.clip(res.x[:n], 0.0, None), float(res.x[-1])


def _polish(A: np.ndarray, x: np.ndarray, y: np.ndarray, v: float):
    """The exact solution on the LP's supports when they form a nonsingular square system, else None.

    HiGHS stops at feasibility tolerances near 1e-7; on a nondegenerate equilibrium the supports S, T have equal
    size and (x_S, v), (y_T, v) solve A_ST^T x_S = v 1, A_ST y_T = v 1 with the weights summing to 1: solving that
    system gives the equilibrium to rounding error.
    """
    S, T = np.flatnonzero(x > SUPPORT_TOL), np.flatnonzero(y > SUPPORT_TOL)
    if S.size != T.size:
        return None
    k = S.size
    B = A[np.ix_(S, T)]
    Mx = np.zeros((k + 1, k + 1))
    Mx[:k, :k], Mx[:k, k], Mx[k, :k] = B.T, -1.0, 1.0
    My = np.zeros((k + 1, k + 1))
    My[:k, :k], My[:k, k], My[k, :k] = B, -1.0, 1.0
    rhs = np.zeros(k + 1)
    rhs[k] = 1.0
    try:
        if min(np.linalg.cond(Mx), np.linalg.cond(My)) > 1e12:
            return None
        sx, sy = np.linalg.solve(Mx, rhs), np.linalg.solve(My, rhs)
    except np.linalg.LinAlgError:
        return None
    if np.any(sx[:k] <= 0) or np.any(sy[:k] <= 0):
        return None
    xp, yp = np.zeros_like(x), np.zeros_like(y)
    xp[S], yp[T] = sx[:k], sy[:k]
    value = float(sy[k])
    scale = max(1.0, float(np.max(np.abs(A))))
    # still an equilibrium: no action does better than the value against the other player's strategy
    if np.max(A @ yp) > value + 1e-12 * scale or np.min(A.T @ xp) < value - 1e-12 * scale:
        return None
    return xp, yp, value


def _strictly_complementary(A, x, y, v) -> bool:
    """Sufficient for uniqueness (Bohnenblust-Karlin-Shapley): square nonsingular support system + strict slack."""
    S, T = np.flatnonzero(x > SUPPORT_TOL), np.flatnonzero(y > SUPPORT_TOL)
    if S.size != T.size:
        return False
    k = S.size
    bordered = np.zeros((k + 1, k + 1))
    bordered[:k, :k], bordered[:k, k], bordered[k, :k] = A[np.ix_(S, T)], -1.0, 1.0
    if np.linalg.cond(bordered) > 1e12:  # the support system does not pin (y_T, v) down
        return False
    scale = max(1.0, float(np.max(np.abs(A))))
    off_x = np.setdiff1d(np.arange(A.shape[0]), S)
    off_y = np.setdiff1d(np.arange(A.shape[1]), T)
    slack = 1e-9 * scale
    return bool(np.all((A @ y)[off_x] < v - slack) and np.all((A.T @ x)[off_y] > v + slack))


def _optimal_face_is_point(A: np.ndarray, v: float) -> bool:
    """Each coordinate's range over the optimal set {x in Delta: A^T x >= v} is (numerically) a point."""
    n, m = A.shape
    slack = 1e-9 * max(1.0, float(np.max(np.abs(A))))
    linprog = _linprog()
    for i in range(n):
        ranges = []
        for sign in (1.0, -1.0):
            c = np.zeros(n)
            c[i] = sign
            res = linprog(c, A_ub=-A.T, b_ub=-(v - slack) * np.ones(m), A_eq=np.ones((1, n)), b_eq=[1.0],
                          bounds=[(0, None)] * n, method="highs")
            ranges.append(sign * res.fun)
        if ranges[1] - ranges[0] > 1e-6:
            return False
    return True


def solve_game(A, *, check_unique: bool = True) -> Equilibrium:
    """The equilibrium of max_{x in Delta_n} min_{y in Delta_m} x^T A y by linear programming (HiGHS).

    Both players' LPs are solved with scipy's HiGHS; when the supports give a nonsingular square system, the
    equilibrium is then recomputed from it exactly (to rounding error, where HiGHS stops at its 1e-7
    tolerances). Uniqueness is certified by the Bohnenblust-Karlin-Shapley conditions (equal supports, nonsingular
    support matrix, every unplayed action strictly worse); when they fail, by linear programs that bound every
    coordinate over both players' optimal sets (2(n + m) small LPs).

    Parameters
    ----------
    A : (n, m) array
        The payoff matrix: the row player receives x^T A y. Finite.
    check_unique : bool
        Certify uniqueness (``Equilibrium.unique``); with False, ``unique`` is False unless the cheap certificate
        holds.

    Returns
    -------
    Equilibrium

    Raises
    ------
    ValueError
        When A is not a finite 2-D array with at least one entry.
    """
    A = float_array(A, "A", np.float64, ndim=2)
    if A.size == 0:
        raise ValueError(f"A must have at least one row and one column, got shape {A.shape}")
    x, v = _solve_row_player(A)
    y, u = _solve_row_player(-A.T)  # the column player maximizes -y^T A^T x
    u = -u
    polished = _polish(A, x, y, v)
    if polished is not None:
        x, y, v = polished
    else:
        x, y, v = x / x.sum(), y / y.sum(), 0.5 * (v + u)
    unique = _strictly_complementary(A, x, y, v)
    if not unique and check_unique:
        unique = _optimal_face_is_point(A, v) and _optimal_face_is_point(-A.T, -v)
    interior = bool(np.all(x > SUPPORT_TOL) and np.all(y > SUPPORT_TOL))
    return Equilibrium(x=x, y=y, value=float(v), unique=bool(unique), interior=interior)
