"""The Gaussian sparse regression model of RELATED.md section 1 and its exact test risk.

y = <beta*, x> + xi with x ~ N(0, I_d), xi ~ N(0, sigma^2), beta* s-sparse, n << d. Because the design is
isotropic, the test loss of any beta is E (y - <beta, x>)^2 / 2 = (||beta - beta*||^2 + sigma^2) / 2 exactly, so the
excess risk R(beta) = ||beta - beta*||^2 needs no test set. The min-l2 interpolant's expected risk has a closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import float_array, integer, nonnegative_float


@dataclass(frozen=True)
class SparseInstance:
    """One draw of the sparse model.

    Attributes
    ----------
    X : (n, d) array
        Inputs, i.i.d. N(0, 1).
    y : (n,) array
        X beta_star + noise.
    beta_star : (d,) array
        The s-sparse truth: ``signal`` on the first s coordinates, 0 elsewhere.
    noise : (n,) array
        xi, i.i.d. N(0, sigma^2).
    sigma : float
    """

    X: np.ndarray
    y: np.ndarray
    beta_star: np.ndarray
    noise: np.ndarray
    sigma: float

    @property
    def support(self) -> np.ndarray:
        """Indices of the non-zero coordinates of beta_star."""
        return np.flatnonzero(self.beta_star)


def sparse_instance(n, d, s, sigma, seed, *, signal=1.0) -> SparseInstance:
    """Draw X (n x d) and then xi (n) from ``numpy.random.default_rng(seed)``; beta*_{1..s} = signal, the rest 0.

    The draw order (X first, then the noise) is RELATED.md 1.4's, so its reference numbers are reproducible.

    Parameters
    ----------
    n, d : int
        Examples and dimension, 1 <= n; d >= 1.
    s : int
        Sparsity, 0 <= s <= d.
    sigma : float
        Noise standard deviation, >= 0.
    seed : int
        Seed of the draw (>= 0).
    signal : float
        Value of the non-zero coordinates of beta* (finite).
    """
    n = integer(n, "n", minimum=1)
    d = integer(d, "d", minimum=1)
    s = integer(s, "s", minimum=0, maximum=d, why=f"the sparsity must be in [0, d = {d}]")
    sigma = nonnegative_float(sigma, "sigma")
    signal = float(float_array(signal, "signal", np.float64, ndim=0))
    rng = np.random.default_rng(integer(seed, "seed", minimum=0))
    X = rng.standard_normal((n, d))
    noise = sigma * rng.standard_normal(n)
    beta_star = np.zeros(d)
    beta_star[:s] = signal
    return SparseInstance(X=X, y=X @ beta_star + noise, beta_star=beta_star, noise=noise, sigma=sigma)


def excess_risk(beta, beta_star) -> np.ndarray:
    """R(beta) = ||beta - beta*||^2 along the last axis: twice the excess test loss under the isotropic design."""
    b_star = float_array(beta_star, "beta_star", np.float64, ndim=1)
    b = np.asarray(beta, dtype=float)
    if b.shape[-1:] != b_star.shape:
        raise ValueError(f"beta must have last dimension {b_star.shape[0]} (that of beta_star), got shape {b.shape}")
    return np.sum((b - b_star) ** 2, axis=-1)


def min_l2_risk(n, d, signal_norm2, sigma) -> float:
    """E R(beta_l2) = ||beta*||^2 (1 - n/d) + sigma^2 n / (d - n - 1) for the min-l2 interpolant, d > n + 1.

    beta_l2 = X^+ y = P beta* + X^+ xi with P the projection on the row space of X, a uniformly random n-dimensional
    subspace: E ||(I - P) beta*||^2 = ||beta*||^2 (1 - n/d); the noise part is sigma^2 E tr (X X^T)^{-1} and
    E (X X^T)^{-1} = I / (d - n - 1) (inverse Wishart mean); the cross term has mean 0.
    """
    n = integer(n, "n", minimum=1)
    d = integer(d, "d", minimum=n + 2, why="the closed form needs d > n + 1")
    signal_norm2 = nonnegative_float(signal_norm2, "signal_norm2")
    sigma = nonnegative_float(sigma, "sigma")
    return signal_norm2 * (1 - n / d) + sigma**2 * n / (d - n - 1)


def oracle_risk(n, s, sigma) -> float:
    """E R of least squares on the true support: sigma^2 s / (n - s - 1) (inverse Wishart mean), n > s + 1."""
    s = integer(s, "s", minimum=0)
    n = integer(n, "n", minimum=s + 2, why="the closed form needs n > s + 1")
    return nonnegative_float(sigma, "sigma") ** 2 * s / (n - s - 1)
