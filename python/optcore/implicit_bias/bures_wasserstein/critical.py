"""Rank-bounded critical points and the minimizer of the Bures-Wasserstein loss, in closed form (RELATED.md 2.3).

For a target Sigma_0 = sum_i lambda_i omega_i omega_i^T and tau >= 0, every index set S with |S| <= k and
lambda_i > tau for i in S gives the critical point Sigma_S = sum_{i in S} (lambda_i - tau) omega_i omega_i^T of
L_tau over covariances of rank <= k, with L_tau(Sigma_S) = sum_{i not in S} (sqrt(lambda_i) - sqrt(tau))^2. The
minimizer over rank <= k keeps the k largest eigenvalues above tau: L* = sum_{i not in S*} (sqrt(lambda_i) -
sqrt(tau))^2 (Brechet et al.'s code writes sum_{i > k}, the same when lambda_k > tau).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..._validation import integer, nonnegative_float
from .generator import LinearGenerator
from .target import Target, as_target, random_orthogonal


@dataclass(frozen=True)
class CriticalPoint:
    """One closed-form critical point.

    Attributes
    ----------
    support : tuple of int
        S, 0-based indices into the descending eigenvalues.
    covariance : (d, d) array
        Sigma_S.
    loss : float
        L_tau(Sigma_S) from the formula.
    """

    support: tuple[int, ...]
    covariance: np.ndarray
    loss: float


def _check(target, rank, tau):
    tgt = as_target(target)
    k = integer(rank, "rank", minimum=0)
    if k > tgt.dim:
        raise ValueError(f"rank must be in [0, {tgt.dim}] (the target's dimension), got {k}")
    return tgt, k, nonnegative_float(tau, "tau")


def critical_point(target, support, *, tau: float = 0.0) -> CriticalPoint:
    """Sigma_S and L_tau(Sigma_S) for an index set S (0-based, eigenvalues in descending order).

    Parameters
    ----------
    target : Target or (d, d) array_like
    support : iterable of int
        Distinct indices in [0, d) with lambda_i > tau (else Sigma_S would not be positive semidefinite).
    tau : float

    Returns
    -------
    CriticalPoint
    """
    tgt = as_target(target)
    tau = nonnegative_float(tau, "tau")
    S = tuple(sorted(integer(i, "support", minimum=0, maximum=tgt.dim - 1) for i in support))
    if len(set(S)) != len(S):
        raise ValueError(f"support must hold distinct indices, got {S}")
    lam, Om = tgt.eigenvalues, tgt.eigenvectors
    if any(lam[i] <= tau for i in S):
        raise ValueError(f"support must index eigenvalues > tau = {tau}, got lambda = {lam[list(S)]}")
    idx = list(S)
    cov = (Om[:, idx] * (lam[idx] - tau)) @ Om[:, idx].T
    rest = [i for i in range(tgt.dim) if i not in S]
    value = float(np.sum((np.sqrt(lam[rest]) - np.sqrt(tau)) ** 2))
    return CriticalPoint(support=S, covariance=cov, loss=value)


def critical_points(target, rank: int, *, tau: float = 0.0, min_size: int = 1) -> list[CriticalPoint]:
    """Every closed-form critical point Sigma_S with min_size <= |S| <= rank (eigenvalues > tau only).

    Returns
    -------
    list of CriticalPoint
        Ordered by |S|, then lexicographically.
    """
    tgt, k, tau = _check(target, rank, tau)
    eligible = [i for i in range(tgt.dim) if tgt.eigenvalues[i] > tau]
    m = integer(min_size, "min_size", minimum=0)
    return [
        critical_point(tgt, S, tau=tau)
        for size in range(m, k + 1)
        for S in itertools.combinations(eligible, size)
    ]


def minimizer(target, rank: int, *, tau: float = 0.0) -> CriticalPoint:
    """The minimizer of L_tau over covariances of rank <= ``rank``: the largest eigenvalues above tau.

    Returns
    -------
    CriticalPoint
    """
    tgt, k, tau = _check(target, rank, tau)
    return critical_point(tgt, [i for i in range(k) if tgt.eigenvalues[i] > tau], tau=tau)


def optimal_loss(target, rank: int, *, tau: float = 0.0) -> float:
    """L* = min over rank <= ``rank`` of L_tau: sum over i outside the top-``rank`` of (sqrt(lambda_i) - sqrt(tau))^2."""
    return minimizer(target, rank, tau=tau).loss


def factor(covariance, dz: int, *, seed: int | None = None) -> np.ndarray:
    """An end-to-end W (d x d_z) with W W^T = covariance: Omega_r diag(sqrt(mu_r)) V^T over its r nonzero eigenvalues.

    V (d_z x r) has orthonormal columns: the first r columns of the identity, or of a Haar-random orthogonal
    matrix drawn from ``seed``. Needs r <= d_z.

    Returns
    -------
    (d, d_z) array
    """
    S = Target.from_covariance(covariance, "covariance")
    dz = integer(dz, "dz", minimum=1)
    mu = S.eigenvalues
    r = int(np.sum(mu > 1e-14 * max(mu[0], np.finfo(float).tiny)))
    if r > dz:
        raise ValueError(f"covariance has rank {r} > dz = {dz}: no d x dz factor")
    V = np.eye(dz) if seed is None else random_orthogonal(dz, np.random.default_rng(integer(seed, "seed", minimum=0)))
    return (S.eigenvectors[:, :r] * np.sqrt(mu[:r])) @ V[:, :r].T


def balanced_layers(generator: LinearGenerator, W) -> np.ndarray:
    """Balanced parameters (P,) with end-to-end matrix W (Arora et al. 2019; "balance-force" in Brechet et al.).

    With W = U diag(s) V^T, every layer gets diag(s^{1/N}) on the top k = min_j d_j singular values: W_1 =
    E_1 diag(s^{1/N}) V_k^T, W_j = E_j diag(s^{1/N}) E_{j-1}^T, W_N = U_k diag(s^{1/N}) E_{N-1}^T (E_j the first k
    columns of I_{d_j}), so W_{j+1}^T W_{j+1} = W_j W_j^T. W must have rank <= k (else only its best rank-k
    approximation is realized: a ValueError says so).

    Returns
    -------
    (P,) array
    """
    gen = generator
    W = np.asarray(W, dtype=np.float64)
    if W.shape != (gen.dx, gen.dz):
        raise ValueError(f"W must have shape ({gen.dx}, {gen.dz}), got {W.shape}")
    U, s, Vt = np.linalg.svd(W)
    k = min(gen.rank_bound, s.size)
    if s.size > k and s[k] > 1e-10 * max(s[0], np.finfo(float).tiny):
        raise ValueError(f"W has rank > {k} = min(widths): the generator cannot realize it")
    root = s[:k] ** (1.0 / gen.depth)
    layers = []
    for j, (out, inp) in enumerate(gen.shapes()):
        L = np.zeros((out, inp))
        if gen.depth == 1:
            L = (U[:, :k] * s[:k]) @ Vt[:k]
        elif j == 0:
            L[:k] = root[:, None] * Vt[:k]
        elif j == gen.depth - 1:
            L[:, :k] = U[:, :k] * root
        else:
            L[:k, :k] = np.diag(root)
        layers.append(L)
    return gen.pack(layers)
