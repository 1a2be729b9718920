"""Extreme eigenpairs by Lanczos with full reorthogonalization, written as steps for :func:`batch.drive`.

ARPACK (scipy ``eigsh``) drives its own loop and cannot hand its products to a batched call, so a batch of
Hessians uses this solver: plain Lanczos from one start vector, every new vector orthogonalized (twice) against
all previous ones, so the tridiagonal T_m's eigenvalues (Ritz values) carry no spurious copies. After step m a
Ritz pair (theta, y = Q s) has the residual |H y - theta y| = beta_m |s_m| (the last component of s), known
without a product; the run stops when the k wanted pairs' residuals are at most tol max|theta| (after at least
max(2k + 1, 20) steps, so that the wanted end of the spectrum has been explored), or at P steps (then T_P is
similar to H and the answer is exact). A Lanczos vector that vanishes (an invariant subspace) is replaced by a
fixed pseudo-random vector orthogonal to the basis, so the run goes on into the rest of the space.

Like every single-vector Krylov method (ARPACK too) it sees one copy of an eigenvalue per start vector: an exactly
repeated eigenvalue among the k wanted may appear once. The final values are the Rayleigh quotients y^T H y of the
unit Ritz vectors (error about residual^2 / gap), with their measured residuals (k more products).
"""

from __future__ import annotations

import numpy as np

from .batch import Steps
from .density import lanczos_step, orthogonalize

#: residual tolerance used for tol = 0 (relative to the largest |Ritz value|)
DEFAULT_TOL = 1e-12


def lanczos_eigen_steps(v0: np.ndarray, k: int, which: str, vectors: bool, tol: float, max_steps: int) -> Steps:
    """The k wanted eigenpairs of one symmetric operator (see the module docstring); yields one vector per step.

    Returns (values (k,), unit vectors (P, k) or None, products used, residuals (k,)), ordered as ``which`` says.

    Raises ``ValueError`` when the residuals are still above the tolerance after ``max_steps`` (< P) steps.
    """
    P = v0.size
    m_max = min(max_steps, P)
    rel = tol if tol > 0 else DEFAULT_TOL
    min_steps = min(m_max, max(2 * k + 1, 20))
    Q = np.zeros((P, m_max))
    alpha: list[float] = []
    beta: list[float] = []
    q = v0 / np.linalg.norm(v0)
    fill = np.random.default_rng(0x1A2C)  # replacement vectors after an invariant subspace (fixed: same answer)
    theta = S = wanted = None
    for j in range(m_max):
        a, w = yield from lanczos_step(Q, j, q)
        alpha.append(a)
        b = float(np.linalg.norm(w))
        m = j + 1
        if m >= min_steps and (m <= 60 or m % 10 == 0 or m == m_max):
            theta, S = _ritz(alpha, beta)
            wanted = _wanted(theta, k, which)
            scale = float(np.max(np.abs(theta)))
            residual = b * np.abs(S[-1, wanted])
            if m == P or np.all(residual <= rel * scale):
                break
            if m == m_max:
                raise ValueError(
                    f"eigenpairs did not converge in max_steps = {max_steps} Lanczos steps: the wanted Ritz pairs' "
                    f"largest residual is {residual.max():.3g}, above tol x max|theta| = {rel * scale:.3g}; "
                    "raise max_steps (memory: max_steps vectors of length P) or tol"
                )
        if j == m_max - 1:
            break
        if b <= 1e-14 * max(abs(a), b, max(map(abs, alpha))):  # invariant subspace: go on in the rest of the space
            w = orthogonalize(fill.standard_normal(P), Q[:, : j + 1])
            beta.append(0.0)
            q = w / np.linalg.norm(w)
        else:
            beta.append(b)
            q = w / b
    m = len(alpha)
    if theta is None or S.shape[0] != m:
        theta, S = _ritz(alpha, beta)
        wanted = _wanted(theta, k, which)
    Y = Q[:, :m] @ S[:, wanted]
    if not vectors:
        return theta[wanted], None, m, np.zeros(k)
    Y /= np.linalg.norm(Y, axis=0)
    HY = yield Y
    values = np.einsum("pk,pk->k", Y, HY)
    order = {"largest": np.argsort(values)[::-1], "smallest": np.argsort(values)}.get(
        which, np.argsort(np.abs(values))[::-1]
    )
    values, Y, HY = values[order], Y[:, order], HY[:, order]
    signs = np.sign(Y[np.argmax(np.abs(Y), axis=0), np.arange(k)])
    signs = np.where(signs == 0, 1.0, signs)
    Y, HY = Y * signs, HY * signs
    residuals = np.linalg.norm(HY - Y * values, axis=0)
    return values, Y, m + k, residuals


def _ritz(alpha: list, beta: list) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of the tridiagonal T with diagonal alpha and off-diagonal beta."""
    from scipy.linalg import eigh_tridiagonal

    if len(alpha) == 1:
        return np.array(alpha, dtype=np.float64), np.ones((1, 1))
    return eigh_tridiagonal(np.asarray(alpha), np.asarray(beta))


def _wanted(theta: np.ndarray, k: int, which: str) -> np.ndarray:
    """Indices of the k wanted Ritz values (theta ascending), in the order of the result."""
    if which == "largest":
        return np.arange(theta.size - 1, theta.size - 1 - min(k, theta.size), -1)
    if which == "smallest":
        return np.arange(min(k, theta.size))
    return np.argsort(np.abs(theta), kind="stable")[::-1][:k]
