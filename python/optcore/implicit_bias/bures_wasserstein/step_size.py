"""The constants of Brechet et al.'s GD convergence bound, as their code computes them (RELATED.md 2.3).

The theorem behind them is not verified here ([M] in RELATED.md): these are the formulas of ``train_linear.py``,
shipped so that a run can use the step size they certify and a test can check that the loss does not increase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..._validation import integer, nonnegative_float
from .target import as_target


@dataclass(frozen=True)
class StepSizeBound:
    """The constants for one initialization.

    Attributes
    ----------
    c : float
        sqrt(lambda_k) - sqrt(L(0)) > 0 (the "close" initialization makes it so; Brechet et al.'s code replaces it
        by sqrt(lambda_k) for the other initializations, where the bound says nothing).
    C0, M : float
        C_0 = 2 (L(0) + sum lambda_i), M = sqrt(C_0).
    eta1, eta2, eta3 : float
        eta1 = c^2 / (8 M sqrt(L(0))), eta3 = 1 / (4 N c^{2(N-1)/N}), eta2 = N c^{2(N-1)/N} / (2 Delta) with
        Delta = 2^{N+1} N^2 M^{(4N-3)/N} sqrt(lambda_1) / c^{2N} + 8 N (N-1) M^{(3N-4)/N} (M^{1/N} + sum lambda_i).
    eta : float
        min(eta1, eta2, eta3).
    K : float
        sqrt(tau lambda_min) / (2 C_0^2), the code's strong-convexity constant.
    rate : float
        8 N c^{2(2N-1)/N} K: the suggested L(t) - L* <= (L(0) - L*) exp(-rate t) of gradient flow.
    """

    c: float
    C0: float
    M: float
    eta1: float
    eta2: float
    eta3: float
    eta: float
    K: float
    rate: float


def step_size_bound(target, *, depth: int, rank: int, loss0: float, tau: float = 0.0) -> StepSizeBound:
    """The step-size constants of Brechet et al.'s code for a depth-N generator of rank bound k.

    Parameters
    ----------
    target : Target or (d, d) array_like
    depth : int
        N >= 1.
    rank : int
        k = min_j d_j, in [1, d].
    loss0 : float
        L_tau(W(0)) >= 0.
    tau : float

    Returns
    -------
    StepSizeBound
    """
    tgt = as_target(target)
    N = integer(depth, "depth", minimum=1)
    k = integer(rank, "rank", minimum=1, maximum=tgt.dim)
    L0 = nonnegative_float(loss0, "loss0")
    tau = nonnegative_float(tau, "tau")
    lam = tgt.eigenvalues
    sqrt_lk = math.sqrt(lam[k - 1])
    c = sqrt_lk - math.sqrt(L0)
    if c <= 0:
        raise ValueError(
            f"the bound needs c = sqrt(lambda_k) - sqrt(loss0) > 0, got {c:.3g} (loss0 = {L0:.3g}, "
            f"lambda_k = {lam[k - 1]:.3g}): start closer to the target (init_close)"
        )
    C0 = 2 * (L0 + float(lam.sum()))
    M = math.sqrt(C0)
    eta1 = c**2 / (8 * M * math.sqrt(L0)) if L0 > 0 else math.inf
    eta3 = 1 / (4 * N * c ** (2 * (N - 1) / N))
    Delta = 2 ** (N + 1) / c ** (2 * N) * N**2 * M ** ((4 * N - 3) / N) * math.sqrt(lam[0]) + 8 * N * (N - 1) * M ** (
        (3 * N - 4) / N
    ) * (M ** (1 / N) + float(lam.sum()))
    eta2 = N * c ** (2 * (N - 1) / N) / (2 * Delta)
    K = math.sqrt(tau * lam[-1]) / (2 * C0**2)
    rate = 8 * N * c ** (2 * (2 * N - 1) / N) * K
    return StepSizeBound(c=c, C0=C0, M=M, eta1=eta1, eta2=eta2, eta3=eta3, eta=float(np.min([eta1, eta2, eta3])),
                         K=K, rate=rate)
