"""The shuffling studies (optcore.shuffling): slopes in the theory's bands, exact matrix products, GraB, FlipFlop.

Small grids here; the full sizes are the experiments' defaults (``optcore run NAME``).
"""

import itertools
import math

import numpy as np
import pytest

import optcore
from optcore.experiments.sweep import run_sweep
from optcore.shuffling import matrix_products as mp
from optcore.shuffling.grab import balance_order, prefix_discrepancy, run_grab
from optcore.shuffling.studies_machines import MACHINES
from optcore.shuffling.studies_rates import FLIPFLOP, NONCOMMUTING, RATES, SEPARATIONS


def summary(experiment, grid, seeds):
    table = run_sweep(experiment, grid, seeds=seeds).table
    return experiment.summarize(table)


def slope(frame, **where):
    rows = frame
    for k, v in where.items():
        rows = rows[rows[k] == v]
    assert len(rows) == 1, where
    names = [c for c in rows.columns if c == "slope" or (c.startswith("slope_") and c not in ("slope_lo", "slope_hi"))]
    col = names[0]
    return float(rows[col].iloc[0])


# --- a: THEORY 4.7 ----------------------------------------------------------------------------------------------
def test_rates_slopes_in_theory_bands():
    s = summary(RATES, {"K": [16, 32, 64, 128], "runs": 500}, seeds=2)
    bands = {
        "with_replacement": (-1.0, -0.75),
        "random_reshuffling": (-2.75, -2.35),
        "single_shuffle": (-1.9, -1.6),
        "incremental": (-1.75, -1.7),
    }
    for order, (lo, hi) in bands.items():
        assert lo < slope(s, order=order) < hi, order


# --- b: non-commuting quadratics ------------------------------------------------------------------------------------
def test_noncommuting_rr_shows_the_n2k2_term():
    s = summary(NONCOMMUTING, {"n": [4, 8, 16], "K": [128, 256, 512], "runs": 60}, seeds=2)
    rr_n = slope(s, along="n", order="random_reshuffling")
    ss_n = slope(s, along="n", order="single_shuffle")
    rr_K = slope(s, along="K", order="random_reshuffling")
    assert -2.4 < rr_n < -1.5  # 1/(n^2 K^2): slope -2 in n ...
    assert -1.4 < ss_n < -0.8  # ... against SS's 1/(n K^2)
    assert rr_n < ss_n - 0.4
    assert -2.6 < rr_K < -1.9  # 1/K^2, up to the log factors of the step size


# --- c: separations ---------------------------------------------------------------------------------------------------
def test_separations_grow_with_K():
    s = summary(SEPARATIONS, {"n": [64], "K": [16, 64], "runs": 300}, seeds=2)
    small, large = s[s["K"] == 16].iloc[0], s[s["K"] == 64].iloc[0]
    assert 1 < small["SS/RR"] < large["SS/RR"]  # RR beats SS by more as K grows (about K / const)
    assert 1 < small["SGD/SS"] < large["SGD/SS"]
    assert large["SGD/SS"] / small["SGD/SS"] == pytest.approx(4, rel=0.5)  # SGD/SS ~ K


# --- d: minibatch vs local vs SyncShuf ---------------------------------------------------------------------------
def test_machines_slopes_and_scaling():
    grid = {"M": [2, 4, 8], "K": [128, 256, 512], "runs": 60}
    s = summary(MACHINES, grid, seeds=2)
    for algorithm in ("minibatch_rr", "local_rr", "minibatch_syncshuf"):
        assert -2.3 < slope(s, along="K", algorithm=algorithm) < -1.5, algorithm
    assert -1.2 < slope(s, along="M", algorithm="minibatch_rr") < -0.7  # 1/M
    assert -2.3 < slope(s, along="M", algorithm="minibatch_syncshuf") < -1.5  # 1/M^2
    assert slope(s, along="M", algorithm="local_rr") > -0.5  # the M-free H/(N^2 K^2) term dominates


def test_machines_local_averaging_period():
    # at large M the M-free H/(N^2 K^2) term of local RR and local SyncShuf dominates: slope +1 in H; minibatch: 0
    s = summary(MACHINES, {"M": [16], "K": [128, 256], "H": [2, 4, 8, 16], "runs": 60}, seeds=2)
    for algorithm in ("local_rr", "local_syncshuf"):
        assert 0.7 < slope(s, along="H", algorithm=algorithm) < 1.3, algorithm
    assert abs(slope(s, along="H", algorithm="minibatch_rr")) < 0.15


def test_machines_rejects_syncshuf_without_divisibility():
    # refused by the study's validate hook before any cell runs (a ValueError, not a failed cell)
    with pytest.raises(ValueError, match=r"invalid configuration .*SyncShuf needs M \| N, got M = 3, N = 32"):
        run_sweep(MACHINES, {"algorithm": "minibatch_syncshuf", "M": 3, "K": 8, "runs": 2}, seeds=1)


# --- e: W_SS, W_RS, W_GD --------------------------------------------------------------------------------------------
def test_exact_matrices_against_hand_formula_n2():
    A = mp.random_instance(2, 3, 0.3, seed=1)
    K = 3
    P12, P21 = A[1] @ A[0], A[0] @ A[1]
    W = mp.exact_matrices(A, K, dtype=np.float64)
    np.testing.assert_allclose(
        W["W_SS"], 0.5 * (np.linalg.matrix_power(P12, K) + np.linalg.matrix_power(P21, K)), rtol=1e-13, atol=1e-15
    )
    np.testing.assert_allclose(W["W_RS"], np.linalg.matrix_power(0.5 * (P12 + P21), K), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(W["W_GD"], np.linalg.matrix_power(A.mean(0), 2 * K), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("kind", ["W_SS", "W_RS", "W_GD"])
def test_exact_matrices_against_brute_force_sgd_expectations(kind):
    # SGD on f_i = 1/2 x'B_i x with step eta maps x -> (I - eta B_i) x = A_i x. Averaging the engine's iterates
    # over every possible order (all n! single shuffles, all (n!)^K reshuffles, all n^(nK) i.i.d. sequences)
    # gives E[x_K] = W x0 exactly.
    n, K, d, eta = 3, 2, 3, 0.3
    A = mp.random_instance(n, d, eta, seed=4)
    B = (np.eye(d) - A) / eta
    problem = optcore.QuadraticComponents(B, np.zeros((n, d)))
    perms = list(itertools.permutations(range(n)))
    if kind == "W_SS":
        orders = np.array([[p] * K for p in perms])
    elif kind == "W_RS":
        orders = np.array(list(itertools.product(perms, repeat=K)))
    else:
        seqs = np.array(list(itertools.product(range(n), repeat=n * K)))
        orders = seqs.reshape(-1, K, n)
    x0 = np.array([1.0, -2.0, 0.5])
    res = optcore.run_sgd(problem, order=orders, epochs=K, step_size=eta, x0=x0, runs=len(orders))
    W = mp.exact_matrices(A, K, dtype=np.float64)[kind]
    np.testing.assert_allclose(res.x.mean(axis=0), W @ x0, rtol=1e-12, atol=1e-14)


def test_theory_4_4_no_violations_and_gap_size():
    out = mp.count_violations(3, 2, 4, 0.1, trials=40, seed=1)
    assert out["violations_ss_rs"] == 0 and out["violations_rs_gd"] == 0
    assert 1e-7 < out["median_gap_ss_rs"] < 2e-6  # THEORY [C]: about 5e-7
    assert out["max_float64_error"] < 1e-3 * out["min_gap_ss_rs"]  # the precision resolves the gaps


def test_monte_carlo_norms_bracket_the_exact_ones():
    A = mp.random_instance(4, 3, 0.2, seed=2)
    exact = mp.exact_norms(A, 2)
    mc = mp.monte_carlo_norms(A, 2, samples=2000, seed=0)
    assert abs(mc["norm_SS"] - exact["norm_SS"]) < 5 * mc["norm_SS_se"] + 1e-12
    assert mc["norm_GD"] == pytest.approx(exact["norm_GD"], rel=1e-12)


def test_matrix_products_reject_bad_input():
    with pytest.raises(ValueError, match="eta must be in"):
        mp.random_instance(3, 2, 1.5)
    with pytest.raises(ValueError, match="n <= 8"):
        mp.exact_matrices(mp.random_instance(9, 2, 0.1), 1)
    with pytest.raises(ValueError, match="symmetric"):
        mp.exact_matrices(np.array([[[1.0, 2.0], [0.0, 1.0]]] * 2), 1)


# --- section 6: FlipFlop and GraB --------------------------------------------------------------------------------
def test_flipflop_steepens_the_k_slope():
    s = summary(FLIPFLOP, {"K": [16, 32, 64], "runs": 300}, seeds=2)
    for base in ("random_reshuffling", "single_shuffle", "incremental"):
        flip = {"random_reshuffling": "flipflop_rr", "single_shuffle": "flipflop_ss", "incremental": "flipflop_ig"}[
            base
        ]
        assert slope(s, order=flip) < slope(s, order=base) - 0.7, base


def test_grab_beats_random_reshuffling():
    problem = optcore.LeastSquares.random(128, 5, seed=0, noise=1.0)
    eta = 0.2 / problem.L
    grab = run_grab(problem, epochs=10, step_size=eta, runs=8, seed=3)
    rr = optcore.run_sgd(problem, order="rr", epochs=10, step_size=eta, runs=8, seed=3)
    assert grab["gap"][:, -1].mean() < 0.5 * rr.gap[:, -1].mean()
    assert np.all(np.sort(grab["orders"], axis=-1) == np.arange(128))  # every epoch is a permutation


def test_gradient_balancing_lowers_prefix_discrepancy():
    rng = np.random.default_rng(0)
    z = rng.uniform(size=(2000, 16))
    perm = rng.permutation(2000)
    balanced = balance_order(z[perm][None], perm[None], z.mean(0)[None])[0]
    assert prefix_discrepancy(z, balanced) < 0.7 * prefix_discrepancy(z, perm)
    assert math.isclose(np.sort(balanced).sum(), np.arange(2000).sum())
