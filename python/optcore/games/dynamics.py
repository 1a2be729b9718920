"""Many runs of a game dynamics in one call to the C++ core (cpp/include/optcore/games.hpp)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .. import _core
from .._threads import resolve_threads
from .._validation import INT64_MAX, as_dtype, boolean, choice, float_array, integer, nonnegative_float
from ..sgd import DivergenceWarning
from .equilibrium import Equilibrium, solve_game

METHODS = ("mwu", "omwu", "gda", "ogda", "extragradient")
DOMAINS = ("simplex", "unconstrained")
#: Methods that exist on the simplex only (their update is multiplicative).
MULTIPLICATIVE = ("mwu", "omwu")


@dataclass(frozen=True)
class GameResult:
    """What :func:`run_game` returns (R runs, K record points).

    Attributes
    ----------
    steps : (K,) int64 array
        The recorded steps t = 0, k, 2k, ... (k = ``record_every``).
    kl : (R, K) array or None
        KL(x*||x_t) + KL(y*||y_t) (simplex games with an equilibrium). +inf where an iterate gives zero weight to
        an action the equilibrium plays (only the projected methods reach the boundary).
    gap : (R, K) array or None
        Duality gap max_i (A y_t)_i - min_j (A^T x_t)_j (simplex games).
    dist : (R, K) array or None
        |z_t - z*|_2, z = (x, y) (when an equilibrium is known).
    avg_gap : (R, K) array or None
        Duality gap of the average iterate (1/(t+1)) sum_{s<=t} z_s (simplex games).
    x, y : (R, n) and (R, m) arrays
        Last iterates (NaN for diverged runs).
    converged_at : (R,) int64 array or None
        First step with |x_t - x*|_1 + |y_t - y*|_1 <= tol, -1 if none (when ``tol`` was given).
    diverged : (R,) int64 array
        First step whose iterate was not finite (the run stopped there, later records NaN), -1 if none.
    iter_x, iter_y : (R, K, n) and (R, K, m) arrays or None
        The iterates at the record points (``record_iterates=True``).
    equilibria : list of Equilibrium or None
        The equilibrium of every game (simplex games with ``equilibrium="auto"``).
    meta : dict
        The call's options.
    """

    steps: np.ndarray
    kl: np.ndarray | None
    gap: np.ndarray | None
    dist: np.ndarray | None
    avg_gap: np.ndarray | None
    x: np.ndarray
    y: np.ndarray
    converged_at: np.ndarray | None
    diverged: np.ndarray
    iter_x: np.ndarray | None
    iter_y: np.ndarray | None
    equilibria: list | None
    meta: dict


def random_games(n: int, m: int | None = None, *, seeds=range(10), low: float = -1.0, high: float = 1.0):
    """Random payoff matrices with i.i.d. uniform entries: ``default_rng(seed).uniform(low, high, (n, m))`` per seed.

    Parameters
    ----------
    n, m : int
        Actions of the row and column players (m defaults to n).
    seeds : iterable of int
        One game per seed.
    low, high : float
        The range of the entries.

    Returns
    -------
    (G, n, m) float64 array
    """
    n = integer(n, "n", minimum=1)
    m = n if m is None else integer(m, "m", minimum=1)
    seeds = [integer(s, "seeds", minimum=0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"need finite low < high, got low = {low}, high = {high}")
    return np.stack([np.random.default_rng(s).uniform(low, high, size=(n, m)) for s in seeds])


def _simplex_start(value, name: str, R: int, d: int, dt, *, interior: bool) -> np.ndarray:
    """``value`` broadcast to (R, d), checked to lie on the simplex (and in its interior when asked)."""
    a = float_array(value, name, np.float64, ndim=(1, 2))
    a = np.broadcast_to(a, (R, d)) if a.ndim == 1 and a.shape == (d,) else a
    if a.shape != (R, d):
        raise ValueError(f"{name} must have shape ({d},) or ({R}, {d}), got {np.shape(value)}")
    if np.any(a < 0):
        raise ValueError(f"{name} must lie on the simplex: it has negative entries (min {a.min():.3g})")
    tol = 1e-9 if dt == np.float64 else 1e-5
    sums = a.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > tol * d)
    if bad.size:
        raise ValueError(f"{name} must lie on the simplex: row {bad[0]} sums to {sums[bad[0]]!r}, not 1")
    if interior and np.any(a <= 0):
        raise ValueError(f"{name} must lie in the interior of the simplex (every entry > 0) for MWU and OMWU")
    return np.array(a, dtype=dt, order="C")


def _free_start(value, name: str, R: int, d: int, dt) -> np.ndarray:
    a = float_array(value, name, np.float64, ndim=(1, 2))
    a = np.broadcast_to(a, (R, d)) if a.ndim == 1 and a.shape == (d,) else a
    if a.shape != (R, d):
        raise ValueError(f"{name} must have shape ({d},) or ({R}, {d}), got {np.shape(value)}")
    return np.array(a, dtype=dt, order="C")


def _equilibria(games: np.ndarray, domain: str, equilibrium):
    """(xstar, ystar, list of Equilibrium or None) for the games, from ``equilibrium`` ('auto', None or pairs)."""
    G, n, m = games.shape
    if equilibrium is None:
        return None, None, None
    if isinstance(equilibrium, str):
        choice(equilibrium, "equilibrium", ("auto",))
        if domain == "unconstrained":  # the origin is an equilibrium of every unconstrained bilinear game
            return np.zeros((G, n)), np.zeros((G, m)), None
        eqs = [solve_game(games[g]) for g in range(G)]
        return np.stack([e.x for e in eqs]), np.stack([e.y for e in eqs]), eqs
    if isinstance(equilibrium, Equilibrium):
        equilibrium = (equilibrium.x, equilibrium.y)
    if isinstance(equilibrium, list | tuple) and all(isinstance(e, Equilibrium) for e in equilibrium):
        xs = np.stack([e.x for e in equilibrium])
        ys = np.stack([e.y for e in equilibrium])
    elif isinstance(equilibrium, tuple) and len(equilibrium) == 2:
        xs = float_array(equilibrium[0], "equilibrium[0] (x*)", np.float64, ndim=(1, 2))
        ys = float_array(equilibrium[1], "equilibrium[1] (y*)", np.float64, ndim=(1, 2))
        xs = np.broadcast_to(xs, (G, n)) if xs.shape == (n,) else xs
        ys = np.broadcast_to(ys, (G, m)) if ys.shape == (m,) else ys
    else:
        raise TypeError("equilibrium must be 'auto', None, an Equilibrium, a list of them, or a pair (x*, y*)")
    if xs.shape != (G, n) or ys.shape != (G, m):
        raise ValueError(f"the equilibrium must have shapes ({n},)/({G}, {n}) and ({m},)/({G}, {m}), got "
                         f"{xs.shape} and {ys.shape}")
    return np.array(xs), np.array(ys), None


def run_game(
    A,
    method: str,
    *,
    steps: int,
    step_size,
    x0=None,
    y0=None,
    domain: str = "simplex",
    x_prev=None,
    y_prev=None,
    game=None,
    runs: int | None = None,
    equilibrium="auto",
    record_every: int = 1,
    tol: float | None = None,
    record_iterates: bool = False,
    dtype=np.float64,
    threads: int | None = None,
) -> GameResult:
    """R runs of MWU, OMWU, GDA, OGDA or extragradient on bilinear zero-sum games, in one C++ call.

    The game is max_x min_y x^T A y (x the maximizing row player), on the simplices (``domain="simplex"``) or on
    R^n x R^m (``"unconstrained"``). With g_t = (A y_t, -A^T x_t):

    * ``mwu``: x_{t+1} ∝ x_t exp(eta A y_t), y_{t+1} ∝ y_t exp(-eta A^T x_t) (simplex only);
    * ``omwu``: the same with 2 A y_t - A y_{t-1} and 2 A^T x_t - A^T x_{t-1} (simplex only);
    * ``gda``: z_{t+1} = z_t + eta g_t; ``ogda``: z_{t+1} = z_t + eta (2 g_t - g_{t-1});
      ``extragradient``: z' = z_t + eta g(z_t), z_{t+1} = z_t + eta g(z'); on the simplex each of these is
      followed by the Euclidean projection (for extragradient, both half steps).

    MWU and OMWU run in log-space (log-weights shifted by their maximum every step): no run overflows, and an
    action's vanishing probability keeps its exact logarithm. Runs are independent and their arithmetic does not
    depend on the thread count: a many-runs call equals each run alone, bit for bit.

    Parameters
    ----------
    A : (n, m) or (G, n, m) array
        Payoff matrix (or G of them). Finite.
    method : {"mwu", "omwu", "gda", "ogda", "extragradient"}
    steps : int
        Steps per run.
    step_size : float or (R,) array
        eta of each run, > 0.
    x0, y0 : (n,) / (R, n) and (m,) / (R, m) arrays, optional
        Starts; on the simplex they must lie on it (in its interior for MWU and OMWU); default uniform
        (simplex) -- required on the unconstrained domain.
    domain : {"simplex", "unconstrained"}
    x_prev, y_prev : arrays like x0, y0, optional
        z_{-1} for the optimistic methods' first step (default z_0).
    game : (R,) int array, optional
        Which of the G games each run plays (default: game r for run r when R = G, else game 0 for G = 1).
    runs : int, optional
        R; inferred from step_size, x0, y0 or game when left out (default G).
    equilibrium : "auto", None, Equilibrium, list of Equilibrium, or (x*, y*)
        The equilibrium the KL divergence and the distance are measured to. "auto": :func:`solve_game` per game
        on the simplex, the origin unconstrained. None: no kl, dist or converged_at.
    record_every : int
        k: records at t = 0, k, 2k, ... <= steps.
    tol : float, optional
        Track ``converged_at``, the first step with |x - x*|_1 + |y - y*|_1 <= tol (checked every step).
    record_iterates : bool
        Also return the iterates at the record points.
    dtype : float32 or float64
    threads : int, optional
        Worker threads (default :func:`optcore.default_threads`); results do not depend on it. Ctrl-C stops the
        call within a fraction of a second (KeyboardInterrupt).

    Returns
    -------
    GameResult

    Raises
    ------
    ValueError
        A not finite, step sizes <= 0, a start off the simplex, shapes that do not match, MWU/OMWU unconstrained.
    """
    method = choice(method, "method", METHODS)
    domain = choice(domain, "domain", DOMAINS)
    if domain == "unconstrained" and method in MULTIPLICATIVE:
        raise ValueError(f"method {method!r} is defined on the simplex only (domain='simplex')")
    dt = as_dtype(dtype)
    steps = integer(steps, "steps", minimum=0, maximum=INT64_MAX)
    record_every = integer(record_every, "record_every", minimum=1, maximum=INT64_MAX)
    record_iterates = boolean(record_iterates, "record_iterates")
    games = float_array(A, "A", np.float64, ndim=(2, 3))
    games = games[None] if games.ndim == 2 else games
    G, n, m = games.shape
    if G == 0 or n == 0 or m == 0:
        raise ValueError(f"A must hold at least one game with n, m >= 1, got shape {np.shape(A)}")
    candidates = [np.shape(v)[0] for v in (x0, y0, x_prev, y_prev) if v is not None and np.ndim(v) == 2]
    candidates += [np.size(v) for v in (step_size, game) if v is not None and np.ndim(v) == 1]
    R = integer(runs, "runs", minimum=1) if runs is not None else (max(candidates) if candidates else G)
    if game is None:
        if G not in (1, R):
            raise ValueError(f"game (the game index of each run) is needed: A holds {G} games for {R} runs")
        game_idx = np.zeros(R, dtype=np.int64) if G == 1 else np.arange(R, dtype=np.int64)
    else:
        game_idx = np.asarray(game)
        if game_idx.dtype.kind not in "iu" or game_idx.shape != (R,):
            raise ValueError(f"game must be an integer array of shape ({R},), got {game_idx.dtype} {game_idx.shape}")
        if game_idx.min() < 0 or game_idx.max() >= G:
            raise ValueError(f"game must hold indices in [0, {G}), got values in [{game_idx.min()}, {game_idx.max()}]")
        game_idx = np.ascontiguousarray(game_idx, dtype=np.int64)
    eta = float_array(step_size, "step_size", np.float64, ndim=(0, 1))
    eta = np.full(R, float(eta)) if eta.ndim == 0 else eta
    if eta.shape != (R,):
        raise ValueError(f"step_size must be a scalar or have shape ({R},), got {eta.shape}")
    if np.any(eta <= 0):
        raise ValueError(f"step_size must be > 0, got {eta[eta <= 0][0]!r}")
    eta_dt = float_array(eta, "step_size", dt)
    if np.any(eta_dt <= 0):
        raise ValueError(f"step_size must be > 0 in {dt} (it underflows to 0)")
    if domain == "simplex":
        interior = method in MULTIPLICATIVE
        x = _simplex_start(np.full(n, 1.0 / n) if x0 is None else x0, "x0", R, n, dt, interior=interior)
        y = _simplex_start(np.full(m, 1.0 / m) if y0 is None else y0, "y0", R, m, dt, interior=interior)
        xp = None if x_prev is None else _simplex_start(x_prev, "x_prev", R, n, dt, interior=interior)
        yp = None if y_prev is None else _simplex_start(y_prev, "y_prev", R, m, dt, interior=interior)
    else:
        if x0 is None or y0 is None:
            raise ValueError("x0 and y0 are required on the unconstrained domain")
        x, y = _free_start(x0, "x0", R, n, dt), _free_start(y0, "y0", R, m, dt)
        xp = None if x_prev is None else _free_start(x_prev, "x_prev", R, n, dt)
        yp = None if y_prev is None else _free_start(y_prev, "y_prev", R, m, dt)
    xs, ys, eqs = _equilibria(games, domain, equilibrium)
    if tol is not None:
        tol = nonnegative_float(tol, "tol")
        if xs is None:
            raise ValueError("tol needs an equilibrium (equilibrium='auto' or given), not None")
    game_dict = {"A": float_array(games, "A", dt)}
    if xs is not None:
        game_dict["xstar"] = float_array(xs, "equilibrium x*", dt)
        game_dict["ystar"] = float_array(ys, "equilibrium y*", dt)
    options = {
        "method": method,
        "domain": domain,
        "steps": steps,
        "record_every": record_every,
        "tol": float(tol) if tol is not None else 0.0,
        "threads": resolve_threads(threads, R),
        "record_iterates": record_iterates,
        "game": game_idx,
        "step_size": eta_dt,
        "x_prev": xp,
        "y_prev": yp,
    }
    out = _core.run_games(game_dict, x, y, options)
    diverged = out["diverged"]
    bad = diverged >= 0
    if bool(bad.any()):
        x[bad] = np.nan
        y[bad] = np.nan
        warnings.warn(
            f"{int(bad.sum())} of {R} runs diverged (non-finite iterates); their records are NaN from that step on "
            f"and their x, y are NaN. Reduce the step size.",
            DivergenceWarning,
            stacklevel=2,
        )
    K = steps // record_every + 1
    return GameResult(
        steps=np.arange(K, dtype=np.int64) * record_every,
        kl=out.get("kl"),
        gap=out.get("gap"),
        dist=out.get("dist"),
        avg_gap=out.get("avg_gap"),
        x=x,
        y=y,
        converged_at=out.get("converged_at") if tol is not None else None,
        diverged=diverged,
        iter_x=out.get("iter_x"),
        iter_y=out.get("iter_y"),
        equilibria=eqs,
        meta={"method": method, "domain": domain, "steps": steps, "record_every": record_every,
              "step_size": eta.copy(), "game": game_idx, "dtype": dt.name, "runs": R, "tol": tol},
    )
