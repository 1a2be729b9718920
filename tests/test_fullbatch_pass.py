"""The full-batch gradient pass of the logistic and exponential losses (MarginLoss::batch_pass in problems.hpp:
the rows' dot products four at a time, phi' in vectors, the column sums of g held in registers across the rows,
and with the objective recorded, phi from the same exp as phi') gives the bits of the plain path: one dot(),
dphi() and axpy() per row and objective() on its own. Recording the objective every step with record_every=1
turns the fused pass off (engine.hpp: full_batch_objective), so the two runs below take the two paths; dims and
batch sizes cover every tail of the vector loops (d mod 8, d mod the vector width, n mod 4). A NumPy gradient
descent checks the numbers themselves."""

import numpy as np
import pytest

import optcore

STEP = {"logistic": 0.5, "exponential": 0.05}


def _problem(kind, n, d, dtype, l2):
    rng = np.random.default_rng(100 * n + d)
    A = rng.standard_normal((n, d))
    y = np.where(rng.standard_normal(n) >= 0, 1.0, -1.0)
    cls = optcore.Logistic if kind == "logistic" else optcore.Exponential
    return cls(A, y, l2=l2, dtype=dtype)


def _gd(problem, epochs, **kw):
    return optcore.run_sgd(problem, order="incremental", batch_size=problem.n, epochs=epochs,
                           step_size=STEP[problem.kind], x0=np.full(problem.dim, 0.1), record=("objective",),
                           threads=1, **kw)


@pytest.mark.parametrize("kind", ["logistic", "exponential"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("n", "d"), [(1, 1), (5, 3), (37, 7), (8, 17), (41, 50), (13, 70)])
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_fused_pass_gives_the_plain_path_bits(kind, dtype, n, d, l2):
    problem = _problem(kind, n, d, dtype, l2)
    fused = _gd(problem, 6)
    plain = _gd(problem, 6, record_every=1)
    assert fused.objective.shape == plain.objective.shape == (1, 7)
    np.testing.assert_array_equal(fused.x, plain.x)
    np.testing.assert_array_equal(fused.objective, plain.objective)


@pytest.mark.parametrize("kind", ["logistic", "exponential"])
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_fullbatch_gd_matches_numpy(kind, l2):
    problem = _problem(kind, 41, 50, np.float64, l2)
    res = _gd(problem, 20)
    A, y = problem.A, problem.y
    x = np.full(problem.dim, 0.1)
    objective = []
    for step in range(21):
        z = y * (A @ x)
        phi = np.logaddexp(0.0, -z) if kind == "logistic" else np.exp(-z)
        objective.append(phi.mean() + 0.5 * l2 * x @ x)
        if step < 20:
            dphi = -1.0 / (1.0 + np.exp(z)) if kind == "logistic" else -np.exp(-z)
            x = x - STEP[kind] * (A.T @ (dphi * y) / len(y) + l2 * x)
    np.testing.assert_allclose(res.objective[0], objective, rtol=1e-12)
    np.testing.assert_allclose(res.x[0], x, rtol=1e-11, atol=1e-13)
