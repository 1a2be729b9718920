"""The generalized linear losses (Huber, squared hinge, Poisson): the compiled gradients and objectives in both
dtypes against independent NumPy loops and finite differences, the constants against their definitions, and the
minimizers against scipy. (Their runs against the NumPy engine reference, every order and setting, are in
test_engine_vs_reference.py through conftest.PROBLEM_KINDS.)
"""

import numpy as np
import pytest
from conftest import RTOL, make_problem
from sgd_reference import component_gradient

import optcore

GLM_KINDS = ["huber", "squared_hinge", "poisson"]


def _loss_loop(kind, problem, x):
    """F(x) by a plain loop over the components, in float64, from the definitions."""
    A, l2, total = problem.A.astype(np.float64), problem.l2, 0.0
    for i in range(problem.n):
        z = A[i] @ x
        if kind == "huber":
            r = abs(z - float(problem.b[i]))
            total += 0.5 * r * r if r <= problem.delta else problem.delta * (r - 0.5 * problem.delta)
        elif kind == "squared_hinge":
            total += 0.5 * max(0.0, 1.0 - float(problem.y[i]) * z) ** 2
        else:
            total += np.exp(z) - float(problem.y[i]) * z
    return total / problem.n + 0.5 * l2 * (x @ x)


def _engine_component_gradients(problem, x0, eta):
    """grad f_i at the iterates x_0, x_1, ... of one epoch of incremental SGD, from the compiled loop.

    x_{s+1} = x_s - eta grad f_{i_s}(x_s): the difference of consecutive recorded iterates over eta (a power of
    two: the division is exact) is the compiled component gradient, to the rounding of x over eta.
    """
    res = optcore.run_sgd(problem, order="incremental", epochs=1, step_size=eta, x0=x0, record_every=1,
                          record_iterates=True, record=())
    xs = res.iterates[0].astype(np.float64)
    return xs[:-1], (xs[:-1] - xs[1:]) / eta


@pytest.mark.parametrize("kind", GLM_KINDS)
def test_compiled_component_gradients_against_numpy_loop(kind, dtype):
    problem = make_problem(kind, dtype, n=12, d=5)
    x0 = 0.3 * np.random.default_rng(2).standard_normal(problem.dim)
    if kind == "squared_hinge":  # a start that classifies some points with margin > 1 and others not
        x0 = 2.0 * np.linalg.lstsq(problem.A.astype(np.float64), problem.y.astype(np.float64), rcond=None)[0]
    eta = 0.25
    xs, grads = _engine_component_gradients(problem, x0, eta)
    data = {k: (np.asarray(v) if not np.isscalar(v) else float(v)) for k, v in problem._data().items()}
    expected = np.array([component_gradient(kind, data, i, x) for i, x in enumerate(xs)])
    scale = np.max(np.abs(xs), axis=1, keepdims=True) / eta + np.abs(expected)
    np.testing.assert_array_less(np.abs(grads - expected), 4 * RTOL[dtype] * scale + 1e-300)
    if kind == "huber":  # both pieces of the loss were visited
        r = np.einsum("id,id->i", problem.A.astype(np.float64), xs) - problem.b
        assert (np.abs(r) < problem.delta).any() and (np.abs(r) > problem.delta).any()
    if kind == "squared_hinge":  # and both sides of the hinge
        m = 1 - problem.y * np.einsum("id,id->i", problem.A.astype(np.float64), xs)
        assert (m > 0).any() and (m < 0).any()


@pytest.mark.parametrize("kind", GLM_KINDS)
def test_compiled_full_gradient_against_finite_differences(kind, dtype):
    """One full-batch step with eta = 1 from points x gives x - grad F(x): against central differences of F."""
    problem = make_problem(kind, dtype, n=12, d=4)
    x0 = 0.4 * np.random.default_rng(5).standard_normal((6, problem.dim))
    x0 = x0.astype(dtype).astype(np.float64)
    res = optcore.run_sgd(problem, order="incremental", epochs=1, step_size=1.0, x0=x0, batch_size=problem.n,
                          record=())
    grads = x0 - res.x.astype(np.float64)
    h = 1e-6
    for x, g in zip(x0, grads, strict=True):
        fd = np.array([(_loss_loop(kind, problem, x + h * e) - _loss_loop(kind, problem, x - h * e)) / (2 * h)
                       for e in np.eye(problem.dim)])
        tol = 1e-6 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(g, fd, rtol=tol, atol=tol * (1 + np.abs(x).max()))
        np.testing.assert_allclose(problem.gradient(x), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", GLM_KINDS)
def test_compiled_objective_against_numpy_loop(kind, dtype):
    problem = make_problem(kind, dtype, n=12, d=4)
    x0 = np.random.default_rng(3).standard_normal((4, problem.dim))
    res = optcore.run_sgd(problem, order="rr", epochs=3, step_size=0.05, x0=x0, record=("objective",),
                          record_iterates=True)
    xs = res.iterates.astype(np.float64).reshape(-1, problem.dim)
    expected = np.array([_loss_loop(kind, problem, x) for x in xs]).reshape(res.objective.shape)
    np.testing.assert_allclose(res.objective, expected, rtol=RTOL[dtype] * 10)
    if dtype == np.float64:  # (the NumPy methods use the float64 data, the float32 problem its rounded copy)
        np.testing.assert_allclose(problem.objective(xs).reshape(expected.shape), expected, rtol=1e-13)


@pytest.mark.parametrize("kind", GLM_KINDS)
def test_minimizer_against_scipy(kind):
    from scipy.optimize import minimize

    problem = make_problem(kind, np.float64, n=40, d=4)
    res = minimize(lambda x: _loss_loop(kind, problem, x), np.zeros(problem.dim), jac=problem.gradient,
                   method="BFGS", tol=1e-12)
    np.testing.assert_allclose(problem.x_star, res.x, atol=1e-6)
    assert problem.f_star <= res.fun + 1e-14
    assert np.linalg.norm(problem.gradient(problem.x_star)) < 1e-12


def test_constants():
    rng = np.random.default_rng(4)
    A, b = rng.standard_normal((30, 3)), rng.standard_normal(30)
    row_max = np.max(np.sum(A * A, axis=1))
    lam = np.linalg.eigvalsh(A.T @ A / 30)[-1]
    for p in (optcore.HuberRegression(A, b, delta=0.3, l2=0.2), optcore.SquaredHinge(A, np.sign(b), l2=0.2)):
        assert p.L == pytest.approx(row_max + 0.2, rel=1e-13)
        assert p.L_F == pytest.approx(lam + 0.2, rel=1e-13)
        assert p.mu == 0.2
        # L_F bounds the generalized Hessians: gradient differences are at most L_F |x - y|
        x, y = rng.standard_normal((2, 3))
        assert np.linalg.norm(p.gradient(x) - p.gradient(y)) <= p.L_F * np.linalg.norm(x - y) * (1 + 1e-12)
    poisson = optcore.PoissonRegression(0.5 * A, rng.poisson(2.0, 30), l2=0.1)
    assert poisson.L is None and poisson.L_F is None and poisson.mu == 0.1
    L, L_F = poisson.smoothness_on_ball(1.5)
    for _ in range(50):  # the Hessians at points of the ball stay below the constants
        x = rng.standard_normal(3)
        x *= 1.5 * rng.uniform() / np.linalg.norm(x)
        w = np.exp(poisson.A @ x)
        hessians = w[:, None, None] * np.einsum("id,ie->ide", poisson.A, poisson.A)
        assert np.linalg.eigvalsh(hessians).max() + 0.1 <= L
        assert np.linalg.eigvalsh(hessians.mean(0))[-1] + 0.1 <= L_F
    assert poisson.smoothness_on_ball(0.0)[1] == pytest.approx(
        np.linalg.eigvalsh(poisson.A.T @ poisson.A / 30)[-1] + 0.1, rel=1e-13
    )


def test_minimizers_without_ridge():
    rng = np.random.default_rng(6)
    A = rng.standard_normal((50, 3))
    # Huber and Poisson regression: a unique minimizer on generic data
    huber = optcore.HuberRegression(A, A @ [1.0, -2.0, 0.5] + rng.standard_t(2, 50), delta=1.0)
    poisson = optcore.PoissonRegression(0.3 * A, rng.poisson(np.exp(0.3 * A @ [0.5, 0.2, -0.4])))
    for p in (huber, poisson):
        assert p.x_star is not None and np.linalg.norm(p.gradient(p.x_star)) < 1e-12
    # separable data: the squared hinge reaches 0 on a whole set of points; no unique minimizer
    w = rng.standard_normal(3)
    assert optcore.SquaredHinge(A, np.sign(A @ w)).x_star is None
    # Huber with every residual beyond delta at the start (a zero generalized Hessian there)
    far = optcore.HuberRegression(A, 50.0 + rng.standard_normal(50), delta=0.1)
    assert far.x_star is not None and np.linalg.norm(far.gradient(far.x_star)) < 1e-12
    # all counts zero and a direction v with a_i'v < 0 for every i: F -> 0 = inf F along v, never attained
    B = np.column_stack([0.5 + np.abs(A[:, 0]), A[:, 1:]])
    zero = optcore.PoissonRegression(B, np.zeros(50))
    assert zero.x_star is None and zero.f_star is None


def test_bad_input():
    A = np.ones((4, 2))
    with pytest.raises(ValueError, match="delta must be a finite number > 0"):
        optcore.HuberRegression(A, np.zeros(4), delta=0.0)
    with pytest.raises(ValueError, match=r"y must hold counts >= 0.*-1"):
        optcore.PoissonRegression(A, [1.0, 2.0, -1.0, 0.0])
    with pytest.raises(ValueError, match="y must be finite"):
        optcore.PoissonRegression(A, [1.0, 2.0, np.nan, 0.0])
    with pytest.raises(ValueError, match=r"labels in \{-1, \+1\}"):
        optcore.SquaredHinge(A, [1.0, 0.0, 1.0, -1.0])
    with pytest.raises(ValueError, match="b must have shape"):
        optcore.HuberRegression(A, np.zeros(3))
    with pytest.raises(ValueError, match="radius must be a finite number >= 0"):
        optcore.PoissonRegression(A, np.ones(4)).smoothness_on_ball(-1.0)
    with pytest.raises(ValueError, match="overflows"):
        optcore.PoissonRegression(A, np.ones(4)).smoothness_on_ball(1e6)


def test_poisson_divergence_is_reported():
    problem = make_problem("poisson", np.float64)
    with pytest.warns(optcore.DivergenceWarning):
        res = optcore.run_sgd(problem, epochs=20, step_size=[0.05, 20.0], seed=1, x0=np.full(problem.dim, 2.0))
    assert list(res.diverged) == [False, True]
