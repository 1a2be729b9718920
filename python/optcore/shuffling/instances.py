"""The problem instances of the shuffling studies (THEORY.md section 4), each with its default step-size rule.

Every builder returns ``(problem, x0, step_size)`` for a given number of epochs K, so a study can sweep K (and n,
M, B) and always use the step size its theorem prescribes.
"""

from __future__ import annotations

import numpy as np

from .._validation import integer, positive_float
from ..problems import LowerBound1D, QuadraticComponents, shuffling_benchmark_1d
from ..schedules import (
    local_rr_step_size,
    minibatch_rr_step_size,
    reference_step_size,
    shuffling_step_size,
    syncshuf_step_size,
)


def reference_1d(n: int, K: int, *, c: float = 3.0):
    """THEORY.md 4.7: f_i(x) = 1/2 (x - b_i)^2, b = (+1)^{n/2} (-1)^{n/2}, x0 = 1, eta = c log(nK)/(nK).

    Equal curvatures and +-1 linear terms: the Safran-Shamir (COLT 2020) lower-bound family of 1-D quadratics.
    """
    return shuffling_benchmark_1d(n), np.array([1.0]), reference_step_size(n, K, c=c)


def noncommuting_quadratic(
    n: int, K: int, *, dim: int = 4, c: float = 2.0, low: float = 0.05, high: float = 5.0, seed: int = 0
):
    """Quadratics with different, non-commuting Hessians: Haar-rotated spectra in [low, high]; x0 = x* + 1.

    Step c log(nK^2)/(mu n K) (Ahn-Yun-Sra). For K > n, RR's 1/(n^2 K^2) term dominates its 1/(n K^3) term; the
    wide spectra make the commutators, and so that term, large enough to see (with spectra in [0.5, 2] the
    1/(n K^3) term still dominates at K = 512, n = 8). Component i is the same for every n > i.
    """
    n, dim = integer(n, "n", minimum=2), integer(dim, "dim", minimum=1)
    rng = np.random.default_rng(seed)
    A = np.empty((n, dim, dim))
    b = np.empty((n, dim))
    for i in range(n):
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        q = q * np.sign(np.diag(r))
        A[i] = (q * rng.uniform(low, high, dim)) @ q.T
        b[i] = rng.standard_normal(dim)
    problem = QuadraticComponents(A, b)
    return problem, problem.x_star + 1.0, shuffling_step_size(n, K, problem.mu, c=c)


def lower_bound_machines(
    N: int,
    K: int,
    *,
    workers: int,
    L: float = 1.0,
    mu: float = 0.1,
    nu: float = 1.0,
    mode: str = "minibatch",
    batch_size: int = 1,
    syncshuf: bool = False,
):
    """Yun-Rajput-Sra's lower-bound function on M machines, x0 = 1, with the step size of Theorems 1, 2, 6 or 7."""
    positive_float(mu, "mu")
    problem = LowerBound1D(N, workers=workers, L=L, mu=mu, nu=nu)
    if syncshuf:
        eta = syncshuf_step_size(
            N, K, mu, workers=workers, batch_size=batch_size if mode == "minibatch" else 1, mode=mode
        )
    elif mode == "minibatch":
        eta = minibatch_rr_step_size(N, K, mu, workers=workers, batch_size=batch_size)
    else:
        eta = local_rr_step_size(N, K, mu, workers=workers)
    return problem, np.array([1.0]), eta
