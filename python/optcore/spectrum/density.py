"""The spectral density of a Hessian by stochastic Lanczos quadrature (Ghorbani, Krishnan, Xiao, ICML 2019).

For a unit start vector q, m Lanczos steps give a tridiagonal T_m with eigenvalues theta_j (nodes) and squared
first components of its eigenvectors w_j (weights): the Gauss quadrature of the measure
mu_q = sum_i (q^T u_i)^2 delta(lambda_i), exact for polynomials of degree <= 2m - 1, so
sum_j w_j theta_j^k = q^T H^k q. With q = z / |z|, z Rademacher (|z|^2 = P), the mean over start vectors is an
unbiased estimate of the normalized spectral measure (1/P) sum_i delta(lambda_i): its k-th moment estimates
tr(H^k) / P with the standard error of the per-vector moments (:meth:`SpectralDensity.moment`). The density is
that measure convolved with a Gaussian of width ``sigma`` (Gaussian broadening).

Lanczos here reorthogonalizes every new vector against all previous ones (twice), so the nodes carry no
spurious copies of converged eigenvalues; it stops early when the Krylov space is exhausted (an invariant
subspace: the quadrature is then exact for every k).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import float_array, integer, positive_float
from .batch import HessianBatch, Steps, drive
from .operator import HessianOperator, as_operator


@dataclass(frozen=True)
class Lanczos:
    """The result of m Lanczos steps: T's diagonal ``alpha`` (m,), off-diagonal ``beta`` (m - 1,), basis Q (P, m)."""

    alpha: np.ndarray
    beta: np.ndarray
    basis: np.ndarray

    def quadrature(self) -> tuple[np.ndarray, np.ndarray]:
        """Nodes (eigenvalues of T) and weights (squared first components of its eigenvectors)."""
        from scipy.linalg import eigh_tridiagonal

        if self.alpha.size == 1:
            return self.alpha.copy(), np.ones(1)
        theta, S = eigh_tridiagonal(self.alpha, self.beta)
        return theta, S[0] ** 2


def lanczos(op: HessianOperator | HessianBatch, start, steps: int) -> Lanczos | list[Lanczos]:
    """Lanczos tridiagonalization with full reorthogonalization from ``start``.

    Parameters
    ----------
    op : HessianOperator or HessianBatch
    start : array (P,), or (R, P) for a batch
        Start vector (normalized here; must be nonzero); for a batch one per network, or one for all.
    steps : int
        At most min(steps, P) products; fewer when the Krylov space is invariant.

    Returns
    -------
    Lanczos, or a list of R for a HessianBatch
    """
    op = as_operator(op, batch=True)
    P = op.dim
    steps = integer(steps, "steps", minimum=1)
    if isinstance(op, HessianBatch):
        starts = float_array(start, "start", np.float64, ndim=(1, 2))
        starts = np.broadcast_to(starts, (op.networks, P)) if starts.shape in ((P,), (1, P)) else starts
        if starts.shape != (op.networks, P):
            raise ValueError(f"start must have shape ({P},) or ({op.networks}, {P}), got {np.shape(start)}")
        vectors = iter([_unit(q) for q in starts])
        return drive(op, lambda: _lanczos_steps(next(vectors), steps))
    return drive(op, lambda: _lanczos_steps(_unit(float_array(start, "start", np.float64, shape=(P,))), steps))


def _unit(q: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(q)
    if norm == 0:
        raise ValueError("start must be a nonzero vector")
    return q / norm


def orthogonalize(w: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``w`` minus its components along the orthonormal columns of ``basis``, twice ("twice is enough"); in place."""
    for _ in range(2):
        w -= basis @ (basis.T @ w)
    return w


def lanczos_step(Q: np.ndarray, j: int, q: np.ndarray) -> Steps:
    """One Lanczos step with full reorthogonalization, as steps for :func:`batch.drive`.

    q becomes basis vector j and is yielded for its product H q; returns (alpha_j = q^T H q, H q orthogonalized
    against basis vectors 0..j).
    """
    Q[:, j] = q
    w = (yield q[:, None])[:, 0].copy()
    return float(q @ w), orthogonalize(w, Q[:, : j + 1])


def _lanczos_steps(q: np.ndarray, steps: int) -> Steps:
    """Lanczos from the unit vector q for one operator: yields each basis vector, receives its product."""
    P = q.size
    m = min(steps, P)
    Q = np.zeros((P, m))
    alpha, beta = [], []
    scale = 0.0
    for j in range(m):
        a, w = yield from lanczos_step(Q, j, q)
        alpha.append(a)
        b = float(np.linalg.norm(w))
        scale = max(scale, abs(a), b)
        if j == m - 1 or b <= 1e-10 * scale:  # done, or the Krylov space is invariant
            break
        beta.append(b)
        q = w / b
    k = len(alpha)
    return Lanczos(np.asarray(alpha), np.asarray(beta), Q[:, :k])


@dataclass(frozen=True)
class SpectralDensity:
    """A stochastic-Lanczos-quadrature estimate of a Hessian's normalized spectral measure.

    Attributes
    ----------
    nodes, weights : list of ndarray
        Per start vector, the quadrature nodes theta_j and weights w_j (each sums to 1).
    grid : ndarray (G,)
    density : ndarray (G,)
        The Gaussian-broadened density on ``grid``; it integrates to about 1.
    sigma : float
        The broadening width.
    dim : int
        P.
    n_hvp : int
        Hessian-vector products used.
    """

    nodes: list
    weights: list
    grid: np.ndarray
    density: np.ndarray
    sigma: float
    dim: int
    n_hvp: int

    def moment(self, k: int) -> tuple[float, float]:
        """The estimate of tr(H^k) / P and its standard error (over start vectors; nan for one vector).

        Exact per vector (sum_j w_j theta_j^k = q^T H^k q) when 2 m - 1 >= k, m the Lanczos steps.
        """
        k = integer(k, "k", minimum=0)
        per = np.array([float(np.sum(w * t**k)) for t, w in zip(self.nodes, self.weights, strict=True)])
        se = float(np.std(per, ddof=1) / np.sqrt(per.size)) if per.size > 1 else float("nan")
        return float(per.mean()), se

    def plot(self, ax=None, *, log: bool = True, label: str | None = None, **kwargs):
        """Draw the density against the eigenvalue (log density axis by default, as in Ghorbani et al.).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            A new figure's axes if None.
        log : bool
            Logarithmic density axis (the density is floored at 1e-12 of its maximum there).
        label : str, optional
        **kwargs
            Passed to ``ax.plot``.

        Returns
        -------
        matplotlib Axes
        """
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(6.4, 4.4))
        y = np.maximum(self.density, 1e-12 * self.density.max()) if log else self.density
        ax.plot(self.grid, y, label=label, **kwargs)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("eigenvalue")
        ax.set_ylabel(f"density (Gaussian broadening sigma = {self.sigma:.3g})")
        return ax


def density(
    op: HessianOperator | HessianBatch,
    *,
    n_vectors: int = 10,
    steps: int = 80,
    sigma: float | None = None,
    grid=None,
    grid_points: int = 1000,
    seed: int = 0,
) -> SpectralDensity | list[SpectralDensity]:
    """The Hessian's spectral density by stochastic Lanczos quadrature with Gaussian broadening.

    Parameters
    ----------
    op : HessianOperator or HessianBatch
        With a batch of R networks, each gets its own density (the same start vectors); the Lanczos steps of all
        networks still running are one product call per step.
    n_vectors : int
        Rademacher start vectors (independent quadratures averaged); >= 2 gives moment standard errors.
    steps : int
        Lanczos steps per vector (products per vector, at most P).
    sigma : float, optional
        Broadening width; default 1% of the span of all nodes (or 1e-3 max(1, |node|) for a single point).
    grid : array, optional
        Where to evaluate the density; default ``grid_points`` points over the nodes' span widened by 5 sigma.
    grid_points : int
    seed : int

    Returns
    -------
    SpectralDensity, or a list of R for a HessianBatch
    """
    op = as_operator(op, batch=True)
    n_vectors = integer(n_vectors, "n_vectors", minimum=1)
    steps = integer(steps, "steps", minimum=1)
    grid_points = integer(grid_points, "grid_points", minimum=2)
    if sigma is not None:
        sigma = positive_float(sigma, "sigma")
    if grid is not None:
        grid = float_array(grid, "grid", np.float64, ndim=1)
    return drive(op, lambda: _density_steps(op.dim, n_vectors, steps, sigma, grid, grid_points, seed))


def _density_steps(P, n_vectors, steps, sigma, grid, grid_points, seed) -> Steps:
    """SLQ for one operator: the start vectors' Lanczos runs one after the other, then the broadened density."""
    rng = np.random.default_rng([seed, 0x51C])
    nodes, weights, used = [], [], 0
    for _ in range(n_vectors):
        z = rng.integers(0, 2, size=P).astype(np.float64) * 2.0 - 1.0
        run = yield from _lanczos_steps(z / np.linalg.norm(z), steps)
        t, w = run.quadrature()
        nodes.append(t)
        weights.append(w)
        used += run.alpha.size
    allnodes = np.concatenate(nodes)
    lo, hi = float(allnodes.min()), float(allnodes.max())
    if sigma is None:
        sigma = 0.01 * (hi - lo) if hi > lo else 1e-3 * max(1.0, abs(lo))
    if grid is None:
        grid = np.linspace(lo - 5 * sigma, hi + 5 * sigma, grid_points)
    dens = np.zeros_like(grid)
    for t, w in zip(nodes, weights, strict=True):
        dens += (w[None, :] * np.exp(-0.5 * ((grid[:, None] - t[None, :]) / sigma) ** 2)).sum(axis=1)
    dens /= n_vectors * sigma * np.sqrt(2 * np.pi)
    return SpectralDensity(nodes, weights, grid, dens, sigma, P, used)
