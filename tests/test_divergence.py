"""Overflow is divergence: a run whose recorded gap, distance, objective or iterate is not finite is flagged, its
records are NaN from that point on, its x is NaN, and a DivergenceWarning says so. No inf is returned as a result.
Distances are computed scaled, so they do not overflow while the distance itself is representable.
"""

import numpy as np
import pytest

import optcore
from optcore.nn import MLP, NetworkProblem, NonFiniteWarning


def _no_inf(res):
    for name in ("gap", "dist", "objective", "iterates", "x"):
        values = getattr(res, name)
        if values is not None:
            assert not np.isinf(values).any(), name


def test_overflowing_gap_is_divergence():
    problem = optcore.LeastSquares.random(n=50, dim=3, seed=0)
    with pytest.warns(optcore.DivergenceWarning, match="1 of 1 runs diverged"):
        res = optcore.run_sgd(problem, epochs=5, step_size=10.0, runs=1, threads=1)
    assert res.diverged.tolist() == [True]
    _no_inf(res)
    assert np.isfinite(res.gap[0, 0])  # the start is fine
    first_bad = int(np.argmax(~np.isfinite(res.gap[0])))
    assert first_bad >= 1 and np.isnan(res.gap[0, first_bad:]).all() and np.isnan(res.dist[0, first_bad:]).all()
    assert np.isnan(res.x).all()


def test_overflow_flags_only_the_runs_it_hits():
    problem = optcore.LeastSquares.random(n=50, dim=3, seed=0)
    with pytest.warns(optcore.DivergenceWarning, match="1 of 3 runs diverged"):
        res = optcore.run_sgd(problem, epochs=5, step_size=[0.01, 10.0, 0.02], threads=2)
    assert res.diverged.tolist() == [False, True, False]
    assert np.isfinite(res.gap[[0, 2]]).all() and np.isfinite(res.x[[0, 2]]).all()
    _no_inf(res)


@pytest.mark.parametrize("activation", ["softplus", "linear", "relu"])
def test_network_objective_overflow_is_divergence(activation):
    # float32 logistic loss on inputs of 1e20: the iterate stays finite while the recorded objective overflows
    mlp = MLP([1, 2, 1], activation=activation, loss="logistic", dtype=np.float32)
    X = np.array([[1e20], [-1e20], [1e19], [-2e19]])
    Y = np.array([1.0, -1.0, -1.0, 1.0])
    problem = NetworkProblem(mlp, X, Y)
    x0 = mlp.init(runs=1, seed=0)[0]
    with pytest.warns(optcore.DivergenceWarning):
        res = optcore.run_sgd(problem, epochs=3, step_size=1e-3, x0=x0, record=("objective",), threads=1)
    assert res.diverged.tolist() == [True]
    _no_inf(res)
    first_bad = int(np.argmax(np.isnan(res.objective[0])))
    assert np.isnan(res.objective[0, first_bad:]).all()


def test_finite_runs_are_unchanged_by_the_check():
    problem = optcore.LeastSquares.random(n=30, dim=4, seed=1)
    res = optcore.run_sgd(problem, epochs=4, step_size=[0.01, 0.02], record_iterates=True, threads=1)
    assert not res.diverged.any() and np.isfinite(res.gap).all() and np.isfinite(res.iterates).all()


def test_distance_of_a_huge_start_is_finite():
    # |x0 - x*| = 1e200 * sqrt(3) is representable; squaring it first would overflow
    problem = optcore.LeastSquares.random(n=20, dim=3, seed=0)
    x0 = np.full(3, 1e200)
    res = optcore.run_sgd(problem, epochs=1, step_size=1e-300, x0=x0, record=("dist",), threads=1)
    expected = np.sqrt(3.0) * 1e200 * np.sqrt(np.sum((1 - problem.x_star / 1e200) ** 2) / 3)
    np.testing.assert_allclose(res.dist[0, 0], expected, rtol=1e-14)
    assert not res.diverged.any()


def test_distance_of_a_tiny_difference_is_not_flushed(dtype):
    problem = optcore.LeastSquares.random(n=20, dim=3, seed=0, dtype=dtype)
    tiny = np.finfo(dtype).tiny  # squares underflow to 0
    x0 = problem.x_star.astype(np.float64) + np.array([1e3, 0.0, 0.0]) * tiny
    x0 = x0.astype(dtype)
    e = x0.astype(np.float64) - problem.x_star.astype(dtype).astype(np.float64)
    res = optcore.run_sgd(problem, epochs=1, step_size=1e-30, x0=x0, record=("dist",), threads=1)
    if np.any(e):
        np.testing.assert_allclose(res.dist[0, 0], np.linalg.norm(e), rtol=1e-6)


def test_hvp_overflow_warns():
    mlp = MLP([1, 1], bias=False, loss="exponential")
    with pytest.warns(NonFiniteWarning, match=r"MLP\.hvp.*not finite.*1 of 1 networks"):
        h = mlp.hvp([10.0], [[1e20], [1e20]], [1, -1], [1.0])
    assert np.isnan(h).all()


@pytest.mark.parametrize("method", ["loss_and_grad", "per_example_grads", "hessian", "loss_value"])
def test_network_evaluations_warn_on_overflow(method):
    mlp = MLP([1, 2, 1], activation="softplus", loss="exponential", dtype=np.float32)
    params = np.stack([mlp.init(runs=1, seed=0)[0], np.full(mlp.n_params, 1e19, np.float32)])
    X, Y = np.array([[1.0], [-1.0]]), np.array([1.0, -1.0])
    with pytest.warns(NonFiniteWarning, match=rf"MLP\.{method}.*rows 1\)"):
        getattr(mlp, method)(params, X, Y)
