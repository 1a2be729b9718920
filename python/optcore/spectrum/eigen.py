"""Extreme eigenpairs of a Hessian operator: Lanczos (ARPACK's implicitly restarted ``eigsh``) on products."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import choice, integer, nonnegative_float
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
) -> Eigenpairs:
    """The k largest or smallest (algebraic) eigenvalues of a Hessian, or the k largest in magnitude.

    Lanczos with implicit restarts (scipy ``eigsh``, ARPACK) on Hessian-vector products. The smallest come from
    the largest of the shifted operator lambda_max I - H (the same eigenvectors; converges faster than asking
    ARPACK for the smallest directly), which costs one extra top-eigenvalue run.

    Parameters
    ----------
    op : HessianOperator
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
        ARPACK's restart limit (default 10 P).

    Returns
    -------
    Eigenpairs
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    op = as_operator(op)
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


def sharpness(op: HessianOperator, *, tol: float = 1e-8, seed: int = 0) -> float:
    """The largest Hessian eigenvalue lambda_max (GD on a quadratic is stable for step sizes below 2 / lambda_max)."""
    return float(eigenpairs(op, 1, which="largest", vectors=False, tol=tol, seed=seed).values[0])
