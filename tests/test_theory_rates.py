"""THEORY.md 4.7 (acceptance test T8): the K-slopes of SGD, RR, SS and IG on the reference 1-D instance.

n = 64, f_i(x) = 1/2 (x - b_i)^2, b = (+1)^32 (-1)^32, x0 = 1, eta = 3 log(nK)/(nK), E[F(x_K) - F*] over runs.
Expected slopes (K = 16..128): SGD -0.88, RR -2.56, SS -1.74, IG -1.72 (exact for IG: no randomness).
"""

import numpy as np
import pytest

import optcore
from optcore.schedules import reference_step_size

EXPECTED = {
    "with_replacement": (-0.878, 0.1),
    "random_reshuffling": (-2.562, 0.15),
    "single_shuffle": (-1.743, 0.1),
    "incremental": (-1.724, 0.05),
}


def mean_final_gaps(order, Ks, runs, seed):
    p = optcore.problems.shuffling_benchmark_1d(64)
    out = []
    for K in Ks:
        res = optcore.run_sgd(
            p,
            order=order,
            epochs=K,
            step_size=reference_step_size(64, K),
            x0=[1.0],
            runs=runs,
            seed=seed,
            record=("gap",),
        )
        out.append(res.gap[:, -1].mean())
    return np.array(out)


@pytest.mark.parametrize("order", list(EXPECTED))
def test_k_slopes_match_theory_section_4_7(order):
    Ks = np.array([16, 32, 64, 128])
    gaps = mean_final_gaps(order, Ks, runs=2000, seed=2024)
    slope = np.polyfit(np.log(Ks), np.log(gaps), 1)[0]
    expected, tol = EXPECTED[order]
    assert abs(slope - expected) < tol, f"{order}: slope {slope:.3f}, expected {expected} +- {tol}"


def test_incremental_gap_matches_closed_form():
    # IG is deterministic: the iterate after an epoch of +1s then -1s has a closed form
    n, K = 64, 16
    eta = reference_step_size(n, K)
    x = 1.0
    for _ in range(K):
        for b in [1.0] * 32 + [-1.0] * 32:
            x = x - eta * (x - b)
    gap = mean_final_gaps("incremental", [K], runs=1, seed=0)[0]
    assert gap == pytest.approx(0.5 * x * x, rel=1e-12)
