"""The full-batch gradient pass of the logistic and exponential losses (MarginLoss::batch_pass in problems.hpp: one
sweep over the rows, a vector of rows at a time -- their dot products, phi' in vectors, then g's column sums in
registers while the rows are in L1 -- and with the objective recorded, phi from the same exp as phi') gives the
bits of the plain path: one dot(), dphi() and axpy() per row and objective() on its own. Recording the objective
every step with record_every=1 turns the fused objective off (engine.hpp: full_batch_objective), so the two runs
below take the two paths; dims and batch sizes cover every tail of the vector loops (d mod 8, d mod the vector
width, n mod the rows per sweep step). A NumPy gradient descent with the same operations in the same order gives
the bits themselves, and a plain NumPy one the numbers."""

import numpy as np
import pytest
from elementary_reference import exp_exact, softplus_neg_exact

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


def _dot_lanes(A, x):
    """Each row's dot() with x (kernels.hpp dot_lanes): term j in lane j mod 8, then the fixed tree."""
    acc = np.zeros((A.shape[0], 8), dtype=A.dtype)
    for j in range(A.shape[1]):
        acc[:, j % 8] = acc[:, j % 8] + A[:, j] * x[j]
    return ((acc[:, 0] + acc[:, 4]) + (acc[:, 2] + acc[:, 6])) + ((acc[:, 1] + acc[:, 5]) + (acc[:, 3] + acc[:, 7]))


def _dphi(kind, z):
    """MarginLoss::dphi(): -e^{-z}, or -e/(1 + e) for z >= 0 and -1/(1 + e) below, e = e^{-|z|}."""
    if kind == "exponential":
        return -exp_exact(-z)
    e = exp_exact(np.where(z >= 0, -z, z))
    one = z.dtype.type(1)
    return np.where(z >= 0, -e, -one) / (one + e)


def _objective(kind, A, y, x, l2):
    """MarginLoss::objective(): phi(y a'x) in double, summed in index order, plus the ridge term."""
    z = y.astype(np.float64) * _dot_lanes(A, x).astype(np.float64)
    phi = softplus_neg_exact(z) if kind == "logistic" else exp_exact(-z)
    total = 0.0
    for value in phi:
        total += value
    return A.dtype.type(total / len(y) + 0.5 * l2 * float(_dot_lanes(x[None, :], x)[0]))


@pytest.mark.parametrize("kind", ["logistic", "exponential"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("n", "d", "l2"), [(41, 50, 0.0), (37, 7, 0.01), (9, 13, 0.0)])
def test_fullbatch_gd_gives_the_per_row_bits(kind, dtype, n, d, l2):
    """One add_grad() per row, in order: g += (1 c_k) a_k (then += l2 x), x += (-eta / n) g; objective() each epoch."""
    problem = _problem(kind, n, d, dtype, l2)
    epochs = 4
    res = _gd(problem, epochs)
    t = np.dtype(dtype).type
    A, y = problem.A.astype(dtype), problem.y.astype(dtype)
    x = np.full(d, 0.1, dtype=dtype)
    eta, l2t = t(STEP[kind]), t(l2)
    objective = [_objective(kind, A, y, x, l2)]
    for _ in range(epochs):
        c = _dphi(kind, y * _dot_lanes(A, x)) * y
        g = np.zeros(d, dtype=dtype)
        for k in range(n):
            g = g + (t(1) * c[k]) * A[k]
            if l2:
                g = g + (t(1) * l2t) * x
        x = x + (-eta / t(n)) * g
        objective.append(_objective(kind, A, y, x, l2))
    assert np.array_equal(res.x[0], x)
    assert np.array_equal(res.objective[0], np.array(objective, dtype=dtype))
