"""Estimators for sparse regression with n << d (RELATED.md 1.2): interpolants, sparse + min-l2 hybrids, and GD on
reparametrized linear models in the C++ core.

* :func:`~optcore.implicit_bias.min_l2_interpolant` (GD on beta from 0) and
  :func:`~optcore.implicit_bias.min_l1_interpolant` (basis pursuit, HiGHS) -- the two norm-minimizing interpolants;
* :func:`support_least_squares`, :func:`lasso_support`, :func:`omp_support` and :func:`hybrid_interpolant`:
  beta_h = beta_S + X^+ (y - X beta_S), least squares on a support S plus the min-l2 fit of the residual
  (Muthukumar et al.'s "sparse recovery + harmless noise fitting"; S = the true support gives the oracle hybrid);
* :func:`train_to_interpolation`: full-batch GD (:func:`~optcore.implicit_bias.run_gd`, C++) on any linear tensor
  network, e.g. :class:`~optcore.implicit_bias.Reparametrized` (w*w - u*u, the composite w*w - u*u + lambda v,
  ...), in chunks until the train MSE is below a tolerance, each block with its own step size.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .._validation import float_array, index_array, integer, positive_float
from .gd import run_gd
from .networks import check_network


def _data(X, y):
    Xa = float_array(X, "X", np.float64, ndim=2)
    n, d = Xa.shape
    if n < 1 or d < 1:
        raise ValueError(f"X must be non-empty, got shape {Xa.shape}")
    ya = float_array(y, "y", np.float64)
    if ya.shape != (n,):
        raise ValueError(f"y must have shape ({n},) (one target per row of X), got {ya.shape}")
    return Xa, ya


def support_least_squares(X, y, support) -> np.ndarray:
    """beta_S: least squares on the columns ``support`` (zero elsewhere); needs |S| <= n and X_S of full rank."""
    Xa, ya = _data(X, y)
    # an empty list is an empty support (numpy would make it a float array)
    S = np.zeros(0, dtype=np.int64) if np.size(support) == 0 else index_array(support, "support", upper=Xa.shape[1])
    if np.unique(S).size != S.size:
        raise ValueError("support must not repeat an index")
    if S.size > Xa.shape[0]:
        raise ValueError(f"support must have at most n = {Xa.shape[0]} indices, got {S.size}")
    beta = np.zeros(Xa.shape[1])
    if S.size:
        XS = Xa[:, S]
        coef, _, rank, _ = scipy.linalg.lstsq(XS, ya)
        if rank < S.size:
            raise ValueError("the columns of X on support are linearly dependent")
        beta[S] = coef
    return beta


def hybrid_interpolant(X, y, support) -> np.ndarray:
    """beta_S + X^T (X X^T)^{-1} (y - X beta_S): least squares on ``support``, then the min-l2 fit of the residual.

    An interpolant (X beta = y) whenever X has full row rank; with the true support it is the oracle hybrid.
    """
    Xa, ya = _data(X, y)
    beta_S = support_least_squares(Xa, ya, support)
    residual = ya - Xa @ beta_S
    G = Xa @ Xa.T
    try:
        fit = Xa.T @ scipy.linalg.solve(G, residual, assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        raise ValueError("X must have full row rank (n <= d, X X^T invertible) for the hybrid interpolant") from None
    return beta_S + fit


def lasso(X, y, penalty) -> np.ndarray:
    """argmin (1/2n) ||y - X beta||^2 + penalty ||beta||_1 (scikit-learn's coordinate descent, no intercept)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    Xa, ya = _data(X, y)
    penalty = positive_float(penalty, "penalty")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # an unconverged Lasso is an error, not a result
        model = Lasso(alpha=penalty, fit_intercept=False, max_iter=100_000, tol=1e-10).fit(Xa, ya)
    return np.asarray(model.coef_, dtype=float)


def lasso_support(X, y, penalty, *, threshold: float = 1e-10) -> np.ndarray:
    """Indices where the Lasso solution (:func:`lasso`) exceeds ``threshold`` in absolute value."""
    return np.flatnonzero(np.abs(lasso(X, y, penalty)) > threshold)


def universal_penalty(n, d, sigma) -> float:
    """sigma sqrt(2 log(d) / n): the Lasso penalty of the theory (sigma known); ``sigma`` > 0."""
    n, d = integer(n, "n", minimum=1), integer(d, "d", minimum=2)
    return positive_float(sigma, "sigma") * np.sqrt(2 * np.log(d) / n)


def omp_support(X, y, s) -> np.ndarray:
    """Orthogonal matching pursuit: s greedy steps, each adding the column most correlated with the LS residual."""
    Xa, ya = _data(X, y)
    n, d = Xa.shape
    s = integer(s, "s", minimum=0, maximum=min(n, d), why="OMP selects at most min(n, d) columns")
    norms = np.linalg.norm(Xa, axis=0)
    if np.any(norms == 0):
        raise ValueError("X must not have a zero column")
    chosen: list[int] = []
    residual = ya.copy()
    for _ in range(s):
        score = np.abs(Xa.T @ residual) / norms
        score[chosen] = -1.0
        chosen.append(int(np.argmax(score)))
        coef = scipy.linalg.lstsq(Xa[:, chosen], ya)[0]
        residual = ya - Xa[:, chosen] @ coef
    return np.array(sorted(chosen), dtype=np.int64)


@dataclass(frozen=True)
class InterpolationRun:
    """What :func:`train_to_interpolation` returns.

    Attributes
    ----------
    beta : (R, d) array
        Final predictor of every run.
    theta : (R, P) array
        Final parameters.
    steps : (R,) int64 array
        GD steps each run took: the first chunk boundary where its train MSE was below ``tol`` (else ``max_steps``).
    train_mse : (R,) array
        mean (X beta - y)^2 at the end.
    converged : (R,) bool array
        train_mse < tol.
    """

    beta: np.ndarray
    theta: np.ndarray
    steps: np.ndarray
    train_mse: np.ndarray
    converged: np.ndarray


def train_to_interpolation(
    network,
    X,
    y,
    *,
    step_size,
    alpha=None,
    theta0=None,
    block_step_scale=None,
    tol: float = 1e-12,
    max_steps: int = 200_000,
    chunk: int = 2_000,
    runs: int | None = None,
    threads: int | None = None,
) -> InterpolationRun:
    """Full-batch GD on the squared loss (1/2n)||X beta - y||^2 until the train MSE is below ``tol``.

    GD runs in the C++ core (:func:`~optcore.implicit_bias.run_gd`, float64) ``chunk`` steps at a time; a run stops
    at the first chunk boundary where mean (X beta - y)^2 < ``tol`` (then its iterates are those of uninterrupted GD
    at that step), and all runs stop at ``max_steps``. Runs that did not converge are flagged, not hidden; a
    diverged run raises ``FloatingPointError``.

    Parameters
    ----------
    network : a linear tensor network (:class:`~optcore.implicit_bias.Reparametrized`, ``Diagonal``, ...)
    X : (n, d) array
    y : (n,) array
    step_size, alpha, theta0, block_step_scale, runs, threads
        As in :func:`~optcore.implicit_bias.run_gd`.
    tol : float
        Train-MSE target, > 0.
    max_steps : int
        Most GD steps per run, >= 1.
    chunk : int
        Steps per kernel call, >= 1.
    """
    net = check_network(network)
    Xa, ya = _data(X, y)
    tol = positive_float(tol, "tol")
    max_steps = integer(max_steps, "max_steps", minimum=1)
    chunk = integer(chunk, "chunk", minimum=1)
    first = run_gd(
        net, Xa, ya, loss="squared", steps=0, step_size=step_size, alpha=alpha, theta0=theta0,
        block_step_scale=block_step_scale, runs=runs, record_at=[0], threads=threads,
    )
    R = first.theta.shape[0]
    theta = first.theta
    eta = first.meta["step_size"]
    scale = first.meta["block_step_scale"]
    mse = 2 * first.loss[:, -1]
    steps = np.zeros(R, dtype=np.int64)
    active = mse >= tol
    while np.any(active) and steps.max(initial=0) < max_steps:
        idx = np.flatnonzero(active)
        todo = min(chunk, max_steps - int(steps[idx[0]]))
        res = run_gd(
            net, Xa, ya, loss="squared", steps=todo, step_size=eta[idx], theta0=theta[idx],
            block_step_scale=None if scale is None else scale[idx], record_at=[todo], threads=threads,
        )
        if np.any(res.diverged >= 0):
            raise FloatingPointError("GD diverged (the loss became non-finite): lower step_size")
        theta[idx] = res.theta
        steps[idx] += todo
        mse[idx] = 2 * res.loss[:, -1]
        active[idx] = (mse[idx] >= tol) & (steps[idx] < max_steps)
    return InterpolationRun(
        beta=net.beta(theta), theta=theta, steps=steps, train_mse=mse, converged=mse < tol
    )
