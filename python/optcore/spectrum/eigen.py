"""Extreme eigenpairs of a Hessian operator: Lanczos (ARPACK's implicitly restarted ``eigsh``) on products."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import choice, integer, nonnegative_float
from .batch import HessianBatch, drive
from .batch_eigen import lanczos_eigen_steps
from .operator import HessianOperator, as_operator

WHICH = ("largest", "smallest", "magnitude")


@dataclass(frozen=True)
class Eigenpairs:
    """Eigenvalues and unit eigenvectors of a Hessian.

    Attributes
    ----------
    values : ndarray (k,)
        Largest first for ``which="largest"`` and ``"magnitude"`` (by |value|), smallest first for ``"smallest"``.
    vectors : ndarray (P, k)
        Column j belongs to ``values[j]``; sign fixed so that its largest-magnitude entry is positive.
    which : str
    n_hvp : int
        Hessian-vector products used.
    residuals : ndarray (k,)
        |H v - lambda v| of each pair (k more products; 0 when vectors were not asked for).
    """

    values: np.ndarray
    vectors: np.ndarray | None
    which: str
    n_hvp: int
    residuals: np.ndarray


def eigenpairs(
    op: HessianOperator,
    k: int = 1,
    *,
    which: str = "largest",
    vectors: bool = True,
    tol: float = 0.0,
    seed: int = 0,
    maxiter: int | None = None,
    max_steps: int | None = None,
) -> Eigenpairs | list[Eigenpairs]:
    """The k largest or smallest (algebraic) eigenvalues of a Hessian, or the k largest in magnitude.

    Lanczos with implicit restarts (scipy ``eigsh``, ARPACK) on Hessian-vector products. The smallest come from
    the largest of the shifted operator lambda_max I - H (the same eigenvectors; converges faster than asking
    ARPACK for the smallest directly), which costs one extra top-eigenvalue run.

    For a :class:`HessianBatch` of R networks, every network runs its own Lanczos with full reorthogonalization
    (no restarts; :func:`optcore.spectrum.batch_eigen.lanczos_eigen_steps`) from the same start vector, in
    lockstep: one product call per step for all networks not yet converged. Each stops when the k wanted Ritz
    pairs have residuals |H y - theta y| <= tol |theta|_max (tol = 0: 1e-12); the values are then the Rayleigh
    quotients of the Ritz vectors. It keeps up to ``max_steps`` vectors of length P per network.

    Parameters
    ----------
    op : HessianOperator or HessianBatch
    k : int
        1 <= k < P (ARPACK's limit; for all P eigenvalues use ``numpy.linalg.eigh(op.dense())``).
    which : {"largest", "smallest", "magnitude"}
    vectors : bool
        Return eigenvectors (and their residuals).
    tol : float
        Relative accuracy of the eigenvalues; 0 means machine precision.
    seed : int
        Seed of the Lanczos start vector (same seed, same answer).
    maxiter : int, optional
        ARPACK's restart limit (default 10 P); single operators only.
    max_steps : int, optional
        Lanczos steps at most per network (default P; at least min(P, max(2k + 1, 20))); a batch only. A network
        not converged by then raises ``ValueError`` naming it.

    Returns
    -------
    Eigenpairs, or a list of R for a HessianBatch
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    op = as_operator(op, batch=True)
    which = choice(which, "which", set(WHICH))
    P = op.dim
    if P < 2:
        raise ValueError(f"eigenpairs needs dimension P >= 2 (got {P}); use op.dense() for a 1 x 1 Hessian")
    k = integer(k, "k", minimum=1)
    if k >= P:
        raise ValueError(
            f"k must be smaller than the dimension P = {P} (Lanczos limit), got k = {k}; for all eigenvalues use "
            "numpy.linalg.eigh(op.dense())"
        )
    tol = nonnegative_float(tol, "tol")
    if isinstance(op, HessianBatch):
        fewest = min(P, max(2 * k + 1, 20))  # (the solver explores at least this much of the space)
        max_steps = P if max_steps is None else integer(max_steps, "max_steps", minimum=fewest)
        v0 = np.random.default_rng([seed, 0xE16]).standard_normal(P)
        return drive(op, lambda: _pairs(lanczos_eigen_steps(v0, k, which, vectors, tol, max_steps), which))
    start = op.n_hvp
    v0 = np.random.default_rng([seed, 0xE16]).standard_normal(P)
    A = op.linear_operator()
    if which == "largest":
        vals, vecs = eigsh(A, k=k, which="LA", tol=tol, v0=v0, maxiter=maxiter)
        order = np.argsort(vals)[::-1]
    elif which == "magnitude":
        vals, vecs = eigsh(A, k=k, which="LM", tol=tol, v0=v0, maxiter=maxiter)
        order = np.argsort(np.abs(vals))[::-1]
    else:
        # shift by an upper bound of the spectrum: lambda_max (plus a margin so the shifted operator is PSD-ish)
        top = float(eigsh(A, k=1, which="LA", tol=tol, v0=v0, maxiter=maxiter, return_eigenvectors=False)[0])
        shift = top + 1e-3 * abs(top)
        S = LinearOperator((P, P), matvec=lambda v: shift * v - op.matvec(v), dtype=np.float64)
        svals, vecs = eigsh(S, k=k, which="LA", tol=tol, v0=v0, maxiter=maxiter)
        vals = shift - svals
        order = np.argsort(vals)
    vals, vecs = vals[order], vecs[:, order]
    residuals = np.zeros(k)
    if vectors:
        signs = np.sign(vecs[np.argmax(np.abs(vecs), axis=0), np.arange(k)])
        vecs = vecs * np.where(signs == 0, 1.0, signs)
        if which == "smallest":
            # the shifted run's eigenvalues lose |shift| eps; the Rayleigh quotients of its vectors do not
            HV = op.matmat(vecs)
            vals = np.einsum("pk,pk->k", vecs, HV)
        else:
            HV = op.matmat(vecs)
        residuals = np.linalg.norm(HV - vecs * vals, axis=0)
    return Eigenpairs(vals, vecs if vectors else None, which, op.n_hvp - start, residuals)


def _pairs(steps, which: str):
    values, vectors, n_hvp, residuals = yield from steps
    return Eigenpairs(values, vectors, which, n_hvp, residuals)


def sharpness(op: HessianOperator | HessianBatch, *, tol: float = 1e-8, seed: int = 0):
    """The largest Hessian eigenvalue lambda_max (GD on a quadratic is stable for step sizes below 2 / lambda_max).

    A float, or an array (R,) for a :class:`HessianBatch`.
    """
    result = eigenpairs(op, 1, which="largest", vectors=False, tol=tol, seed=seed)
    if isinstance(result, list):
        return np.array([float(r.values[0]) for r in result])
    return float(result.values[0])
