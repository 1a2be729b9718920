"""The COLT 2021 open problem (Yun, Sra, Jadbabaie; THEORY.md 4.4): single shuffle vs reshuffling vs GD.

For symmetric A_1..A_n with (1 - eta) I <= A_i <= I and P_sigma = A_sigma(n) ... A_sigma(1):

    W_SS = (1/n!) sum_sigma P_sigma^K,   W_RS = ((1/n!) sum_sigma P_sigma)^K,   W_GD = ((1/n) sum_i A_i)^(nK),

and the conjecture is ||W_SS|| <= ||W_RS|| <= ||W_GD|| (spectral norms). The gaps are tiny (about 1e-7 relative
on THEORY.md's instances), so the sums over all n! permutations are accumulated in extended precision
(``numpy.longdouble``: the x87 80-bit format on x86-64, 64-bit significand, eps 1.1e-19) and the norms taken from
the result; :func:`exact_norms` reports the float64 discrepancy as a check that the precision resolves the gap.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .._validation import float_array, integer, positive_float

EXTENDED = np.longdouble


def random_instance(n: int, dim: int, eta: float, *, seed=0) -> np.ndarray:
    """A_i = I - eta B_i, B_i = Q_i diag(U[0, 1]) Q_i' with Haar Q_i (THEORY.md 4.4's random instances)."""
    n, dim = integer(n, "n", minimum=2), integer(dim, "dim", minimum=1)
    eta = positive_float(eta, "eta")
    if eta > 1:
        raise ValueError(f"eta must be in (0, 1], got {eta}")
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim, dim))
    for i in range(n):
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        q = q * np.sign(np.diag(r))
        out[i] = np.eye(dim) - eta * (q * rng.uniform(0.0, 1.0, dim)) @ q.T
    return out


def _check_matrices(A) -> np.ndarray:
    A = float_array(A, "A", np.float64, ndim=3)
    n, d, d2 = A.shape
    if d != d2 or n < 2:
        raise ValueError(f"A must have shape (n, d, d) with n >= 2, got {A.shape}")
    if np.max(np.abs(A - A.transpose(0, 2, 1))) > 1e-12 * max(1.0, np.max(np.abs(A))):
        raise ValueError("A must hold symmetric matrices")
    return A


def _product(A, sigma, dtype):
    """P_sigma = A[sigma[-1]] ... A[sigma[0]] (the first index acts first)."""
    P = np.eye(A.shape[1], dtype=dtype)
    for i in sigma:
        P = A[i] @ P
    return P


def _spectral_norm_symmetric(W) -> float:
    # the three W are symmetric (each sum contains every product with its transpose, the reversed order)
    W64 = np.asarray(W, dtype=np.float64)
    return float(np.max(np.abs(np.linalg.eigvalsh(0.5 * (W64 + W64.T)))))


def exact_matrices(A, K: int, *, dtype=EXTENDED) -> dict[str, np.ndarray]:
    """W_SS, W_RS and W_GD by enumerating all n! permutations (n <= 8), accumulated in ``dtype``."""
    A = _check_matrices(A)
    K = integer(K, "K", minimum=1)
    n = A.shape[0]
    if n > 8:
        raise ValueError(f"exact enumeration needs n <= 8 (n! products), got n = {n}; use monte_carlo_norms")
    Ax = A.astype(dtype)
    sum_p = np.zeros(Ax.shape[1:], dtype=dtype)
    sum_pk = np.zeros(Ax.shape[1:], dtype=dtype)
    for sigma in itertools.permutations(range(n)):
        P = _product(Ax, sigma, dtype)
        sum_p += P
        sum_pk += np.linalg.matrix_power(P, K) if dtype == np.float64 else _power(P, K)
    count = dtype(math.factorial(n))
    W_gd = _power(Ax.mean(axis=0), n * K)
    return {"W_SS": sum_pk / count, "W_RS": _power(sum_p / count, K), "W_GD": W_gd}


def _power(M, k: int):
    """M^k by repeated squaring in M's dtype (numpy.linalg.matrix_power does not take longdouble everywhere)."""
    result = np.eye(M.shape[0], dtype=M.dtype)
    base = M
    while k:
        if k & 1:
            result = result @ base
        base = base @ base
        k >>= 1
    return result


def exact_norms(A, K: int) -> dict[str, float]:
    """||W_SS||, ||W_RS||, ||W_GD|| from exact enumeration in extended precision, with the float64 discrepancy.

    Returns a dict with the three norms, the relative gaps ``gap_ss_rs = (||W_RS|| - ||W_SS||) / ||W_RS||`` and
    ``gap_rs_gd``, and ``float64_error``: the largest difference between the norms computed in float64 and in
    extended precision (it must be far below the gaps for the comparison to mean anything).
    """
    W = exact_matrices(A, K, dtype=EXTENDED)
    W64 = exact_matrices(A, K, dtype=np.float64)
    norms = {k.replace("W_", "norm_"): _spectral_norm_symmetric(v) for k, v in W.items()}
    norms64 = {k.replace("W_", "norm_"): _spectral_norm_symmetric(v) for k, v in W64.items()}
    out = dict(norms)
    out["gap_ss_rs"] = (norms["norm_RS"] - norms["norm_SS"]) / norms["norm_RS"]
    out["gap_rs_gd"] = (norms["norm_GD"] - norms["norm_RS"]) / norms["norm_GD"]
    out["float64_error"] = max(abs(norms[k] - norms64[k]) / norms[k] for k in norms)
    out["precision"] = f"numpy.longdouble (eps {float(np.finfo(EXTENDED).eps):.1e})"
    return out


def monte_carlo_norms(A, K: int, *, samples: int = 2000, seed=0) -> dict[str, float]:
    """Estimates for n too large to enumerate: W_SS and W_RS from sampled permutations, W_GD exactly.

    The standard errors come from 20 batches of the samples (the norm is not linear, so the batch means of the
    norm estimate its spread). Relative gaps of 1e-7 need far more samples than this resolves; the errors say so.
    """
    A = _check_matrices(A)
    K, samples = integer(K, "K", minimum=1), integer(samples, "samples", minimum=20)
    rng = np.random.default_rng(seed)
    n, d = A.shape[0], A.shape[1]
    batches = 20
    per = samples // batches
    ss, rs = [], []
    for _ in range(batches):
        sum_p, sum_pk = np.zeros((d, d)), np.zeros((d, d))
        for _ in range(per):
            P = _product(A, rng.permutation(n), np.float64)
            sum_p += P
            sum_pk += np.linalg.matrix_power(P, K)
        ss.append(_spectral_norm_symmetric(sum_pk / per))
        rs.append(_spectral_norm_symmetric(np.linalg.matrix_power(sum_p / per, K)))
    gd = _spectral_norm_symmetric(np.linalg.matrix_power(A.mean(axis=0), n * K))
    return {
        "norm_SS": float(np.mean(ss)),
        "norm_SS_se": float(np.std(ss, ddof=1) / np.sqrt(batches)),
        "norm_RS": float(np.mean(rs)),
        "norm_RS_se": float(np.std(rs, ddof=1) / np.sqrt(batches)),
        "norm_GD": gd,
    }


def count_violations(n: int, K: int, dim: int, eta: float, *, trials: int = 300, seed=0, tol: float = 0.0):
    """Random instances (random_instance) checked against ||W_SS|| <= ||W_RS|| <= ||W_GD||.

    A violation is a relative excess above ``tol`` (default 0: any excess). Returns counts and the gap statistics.
    """
    trials = integer(trials, "trials", minimum=1)
    seeds = np.random.SeedSequence(seed).spawn(trials)
    rows = [exact_norms(random_instance(n, dim, eta, seed=s), K) for s in seeds]
    gap_ss = np.array([r["gap_ss_rs"] for r in rows])
    gap_gd = np.array([r["gap_rs_gd"] for r in rows])
    return {
        "trials": trials,
        "violations_ss_rs": int(np.sum(gap_ss < -tol)),
        "violations_rs_gd": int(np.sum(gap_gd < -tol)),
        "median_gap_ss_rs": float(np.median(gap_ss)),
        "min_gap_ss_rs": float(np.min(gap_ss)),
        "median_gap_rs_gd": float(np.median(gap_gd)),
        "max_float64_error": float(max(r["float64_error"] for r in rows)),
    }
