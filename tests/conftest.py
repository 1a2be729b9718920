"""Shared fixtures: dtypes with their tolerances, and small random problems of every kind."""

import numpy as np
import pytest

import optcore

#: relative tolerance of engine iterates against the float64 NumPy reference, per dtype
RTOL = {np.float64: 1e-12, np.float32: 2e-4}


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def dtype(request):
    return request.param


def make_problem(kind, dtype, *, n=12, d=3, seed=0, workers=1):
    """A small, well-conditioned instance of each problem kind."""
    rng = np.random.default_rng(seed)
    if kind == "least_squares":
        return optcore.LeastSquares(rng.standard_normal((n, d)), rng.standard_normal(n), l2=0.05, dtype=dtype)
    if kind == "logistic":
        return optcore.Logistic(rng.standard_normal((n, d)), rng.choice([-1.0, 1.0], n), l2=0.1, dtype=dtype)
    if kind == "exponential":
        return optcore.Exponential(rng.standard_normal((n, d)), rng.choice([-1.0, 1.0], n), l2=0.1, dtype=dtype)
    if kind == "quadratic":
        return optcore.QuadraticComponents.random(n, d, seed=seed, dtype=dtype)
    if kind == "lower_bound":
        return optcore.LowerBound1D(n // workers, workers=workers, L=1.0, mu=0.2, nu=1.0, dtype=dtype)
    if kind == "huber":  # targets spread beyond delta: both pieces of the loss are visited
        A, b = rng.standard_normal((n, d)), 2.0 * rng.standard_normal(n)
        return optcore.HuberRegression(A, b, delta=0.5, l2=0.05, dtype=dtype)
    if kind == "squared_hinge":
        return optcore.SquaredHinge(rng.standard_normal((n, d)), rng.choice([-1.0, 1.0], n), l2=0.1, dtype=dtype)
    if kind == "poisson":
        A = 0.5 * rng.standard_normal((n, d))
        return optcore.PoissonRegression(A, rng.poisson(1.0, n), l2=0.1, dtype=dtype)
    raise ValueError(kind)


PROBLEM_KINDS = ["least_squares", "logistic", "exponential", "quadratic", "lower_bound", "huber", "squared_hinge",
                 "poisson"]
