"""Problems: closed forms (minimizer, F*, mu, L) against independent computations, and gradients against FD."""

import numpy as np
import pytest
from conftest import PROBLEM_KINDS, make_problem

import optcore


@pytest.mark.parametrize("kind", PROBLEM_KINDS)
def test_minimizer_is_stationary_and_optimal(kind):
    p = make_problem(kind, np.float64)
    assert np.linalg.norm(p.gradient(p.x_star)) < 1e-10
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert p.objective(p.x_star + 1e-3 * rng.standard_normal(p.dim)) >= p.f_star
    assert p.f_star == pytest.approx(float(p.objective(p.x_star)), rel=1e-15)


@pytest.mark.parametrize("kind", PROBLEM_KINDS)
def test_gradient_matches_finite_differences(kind):
    p = make_problem(kind, np.float64)
    x = np.random.default_rng(1).standard_normal(p.dim) * 0.5
    h = 1e-6
    fd = np.array([(p.objective(x + h * e) - p.objective(x - h * e)) / (2 * h) for e in np.eye(p.dim)])
    np.testing.assert_allclose(p.gradient(x), fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        p.gradient(x), np.mean([p.component_gradient(i, x) for i in range(p.n)], 0), rtol=1e-12, atol=1e-14
    )


def test_least_squares_constants():
    rng = np.random.default_rng(2)
    A, b = rng.standard_normal((30, 4)), rng.standard_normal(30)
    p = optcore.LeastSquares(A, b, l2=0.1)
    H = A.T @ A / 30 + 0.1 * np.eye(4)
    np.testing.assert_allclose(p.x_star, np.linalg.solve(H, A.T @ b / 30), rtol=1e-12)
    assert p.mu == pytest.approx(np.linalg.eigvalsh(H)[0], rel=1e-12)
    assert p.L_F == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-12)
    assert p.L == pytest.approx(max(np.sum(A**2, 1)) + 0.1, rel=1e-12)
    # without l2, rank deficient: the minimum-norm solution
    q = optcore.LeastSquares(np.hstack([A, A[:, :1]]), b)
    np.testing.assert_allclose(q.x_star, np.linalg.pinv(np.hstack([A, A[:, :1]])) @ b, rtol=1e-10)
    assert q.mu == 0.0


def test_quadratic_constants():
    p = optcore.QuadraticComponents.random(6, 3, seed=4)
    H = p.A.mean(0)
    np.testing.assert_allclose(p.x_star, np.linalg.solve(H, p.b.mean(0)), rtol=1e-12)
    assert p.L == pytest.approx(max(np.linalg.eigvalsh(p.A).max(1)))
    commutators = [np.abs(p.A[i] @ p.A[j] - p.A[j] @ p.A[i]).max() for i in range(6) for j in range(i)]
    assert min(commutators) > 1e-3  # the Hessians really do not commute


def test_logistic_minimizer_against_scipy():
    from scipy.optimize import minimize

    p = make_problem("logistic", np.float64)
    res = minimize(lambda x: float(p.objective(x)), np.zeros(p.dim), jac=p.gradient, method="BFGS", tol=1e-12)
    np.testing.assert_allclose(p.x_star, res.x, atol=1e-6)
    assert p.f_star <= res.fun + 1e-14


def test_lower_bound_function():
    p = optcore.LowerBound1D(8, workers=3, L=2.0, mu=0.5, nu=0.7)
    assert p.n == 24 and p.x_star[0] == 0.0 and p.f_star == 0.0
    assert p.component_gradient(0, [-1.0])[0] == pytest.approx(-2.0 + 0.7)
    assert p.component_gradient(7, [1.0])[0] == pytest.approx(0.5 - 0.7)
    np.testing.assert_array_equal(p.z[:8], [1, 1, 1, 1, -1, -1, -1, -1])


def test_float32_problem_keeps_float64_optimum():
    p32 = make_problem("least_squares", np.float32)
    p64 = make_problem("least_squares", np.float64)
    assert p32.A.dtype == np.float32 and p32.x_star.dtype == np.float64
    np.testing.assert_array_equal(p32.x_star, p64.x_star)


def test_schedules_theorem_step_sizes():
    s = optcore.schedules
    assert s.shuffling_step_size(100, 10, 0.5) == pytest.approx(2 * np.log(100 * 100) / (0.5 * 100 * 10))
    assert s.minibatch_rr_step_size(50, 8, 1.0, workers=4, batch_size=5) == pytest.approx(5 * np.log(4 * 50 * 64) / 400)
    assert s.local_rr_step_size(50, 8, 1.0, workers=4) == pytest.approx(np.log(4 * 50 * 64) / 400)
    assert s.syncshuf_step_size(50, 8, 1.0, workers=4, batch_size=5) == pytest.approx(5 * np.log(16 * 50 * 64) / 400)
    assert s.reference_step_size(64, 16) == pytest.approx(3 * np.log(1024) / 1024)
    table, decay = s.per_epoch([0.1, 0.2, 0.3]).table(2, 3, np.float64)
    np.testing.assert_array_equal(table, [[0.1, 0.2, 0.3]] * 2)
    with pytest.raises(ValueError, match="K = 4 entries"):
        s.per_epoch([0.1, 0.2, 0.3]).table(2, 4, np.float64)
