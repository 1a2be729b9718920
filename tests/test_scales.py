"""Problems at extreme scales: constants right wherever the dtype can hold them, a clear refusal where it cannot.

A power-of-two rescaling of the data is exact in floating point, so a problem scaled by 2^k must report exactly
the scaled constants and give SGD records equal bit for bit to the unscaled ones (with the step size scaled to
match): any underflow, overflow or NaN on the way shows up as a difference.
"""

import numpy as np
import pytest

import optcore


def _ls(scale=1.0, dtype=np.float64, l2=0.0):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((12, 3))
    return optcore.LeastSquares(scale * A, rng.standard_normal(12), l2=l2, dtype=dtype)


@pytest.mark.parametrize(("k", "dtype"), [(-400, np.float64), (-60, np.float64), (60, np.float64), (400, np.float64),
                                          (-40, np.float32), (40, np.float32)])
def test_least_squares_constants_scale_exactly(k, dtype):
    base, scaled = _ls(dtype=dtype), _ls(2.0**k, dtype=dtype)
    assert scaled.L == base.L * 4.0**k and scaled.L_F == base.L_F * 4.0**k and scaled.mu == base.mu * 4.0**k
    np.testing.assert_array_equal(scaled.hessian, base.hessian * 4.0**k)
    np.testing.assert_array_equal(scaled.x_star, base.x_star / 2.0**k)
    assert scaled.f_star == base.f_star and np.isfinite(scaled.f_star)


@pytest.mark.parametrize(("k", "dtype"), [(-400, np.float64), (400, np.float64), (-40, np.float32), (40, np.float32)])
def test_sgd_records_scale_exactly(k, dtype):
    # A -> 2^k A, x -> 2^-k x, eta -> 4^-k eta is an exact change of variables for least-squares SGD
    kw = dict(order="rr", epochs=3, runs=2, seed=5, x0=np.ones(3))
    base = optcore.run_sgd(_ls(dtype=dtype), step_size=0.05, **kw)
    kw["x0"] = kw["x0"] / 2.0**k
    scaled = optcore.run_sgd(_ls(2.0**k, dtype=dtype), step_size=0.05 / 4.0**k, **kw)
    np.testing.assert_array_equal(scaled.gap, base.gap)
    np.testing.assert_array_equal(scaled.dist, base.dist / 2.0**k)
    assert np.all(np.isfinite(scaled.gap)) and np.all(scaled.gap > 0)


def test_tiny_least_squares_data_is_refused_not_given_gap_zero():
    # A'A/n ~ 1e-600 underflows float64: it used to give f_star = NaN and records with gap 0 (the truth is 0.5)
    with pytest.raises(ValueError, match=r"curvature A'A/n .* about 1e-600, below the smallest normal float64"):
        optcore.LeastSquares(np.full((12, 3), 1e-300), np.ones(12))
    # where the curvature fits, the same data is handled exactly: F(0) - F* = 0.5
    p = optcore.LeastSquares(np.full((12, 3), 1e-150), np.ones(12))
    res = optcore.run_sgd(p, epochs=1, step_size=1e299)
    assert res.gap[0, 0] == pytest.approx(0.5, rel=1e-12) and p.f_star == pytest.approx(0.0, abs=1e-20)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: optcore.LeastSquares(np.full((3, 2), 1e39), np.ones(3), dtype=np.float32), "A must be finite in"),
        (lambda: optcore.LeastSquares(np.ones((3, 2)), np.full(3, 1e39), dtype=np.float32), "b must be finite"),
        (lambda: optcore.LeastSquares(np.full((3, 2), 1e20), np.ones(3), dtype=np.float32), "overflows float32"),
        (lambda: optcore.LeastSquares(np.full((3, 2), 1e-20), np.ones(3), dtype=np.float32), "smallest normal float32"),
        (lambda: optcore.LeastSquares(np.eye(2), np.ones(2), l2=1e-50, dtype=np.float32), "l2 is about 1e-50"),
        (lambda: optcore.LeastSquares(np.ones((2, 1)), [1e300, -1e300]), r"f_star .* overflows float64"),
        (lambda: optcore.Logistic(np.full((3, 2), 1e39), [1, -1, 1], dtype=np.float32), "A must be finite in float32"),
        (lambda: optcore.Logistic(np.full((3, 2), 1e-300), [1, -1, 1]), "smallest normal float64"),
        (lambda: optcore.Logistic(np.full((3, 2), 1e200), [1, -1, 1], l2=1.0), "overflows float64"),
        (lambda: optcore.Logistic(np.full((3, 2), 1e150), [1, -1, 1], l2=1.0), "numerically singular"),
        (lambda: optcore.Exponential(np.full((3, 2), 1e39), [1, -1, 1], dtype=np.float32), "A must be finite"),
        (lambda: optcore.QuadraticComponents(np.full((1, 2, 2), 1e39), np.ones((1, 2)), dtype=np.float32), "A must"),
        (lambda: optcore.QuadraticComponents(np.full((1, 2, 2), 1e-310), np.ones((1, 2))), "smallest normal"),
        (lambda: optcore.QuadraticComponents(1e-20 * np.array([[[1, 2], [0, 1]]]), np.ones((1, 2))), "symmetric"),
        (lambda: optcore.LowerBound1D(4, L=1e39, mu=1.0, dtype=np.float32), "L is about 1e\\+39, which overflows"),
        (lambda: optcore.LowerBound1D(3, L=1.0, mu=1e-300, nu=1e10), "x_star .* overflows"),
        (lambda: optcore.NetworkProblem(optcore.MLP([3, 4, 1], dtype=np.float32), np.full((5, 3), 1e39), np.ones(5)),
         "X must be finite in float32"),
    ],
)
def test_unrepresentable_problems_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_quadratic_constants_scale_exactly():
    base = optcore.QuadraticComponents.random(4, 3, seed=1)
    A, b = base.A.astype(float), base.b.astype(float)
    scaled = optcore.QuadraticComponents(A * 2.0**-900, b)
    assert scaled.mu == base.mu * 2.0**-900 and scaled.L == base.L * 2.0**-900
    np.testing.assert_array_equal(scaled.x_star, base.x_star * 2.0**900)
    assert scaled.f_star == base.f_star * 2.0**900


def test_step_sizes_must_survive_the_cast():
    p = _ls(dtype=np.float32)
    with pytest.raises(ValueError, match="finite in the problem's dtype float32"):
        optcore.run_sgd(p, epochs=1, step_size=1e39)
    with pytest.raises(ValueError, match="step sizes must be > 0"):
        optcore.run_sgd(p, epochs=1, step_size=1e-50)


@pytest.mark.parametrize("cls", [optcore.Logistic, optcore.Exponential])
@pytest.mark.parametrize("k", [-300, -40, 40, 300])
def test_margin_minimizer_scales_exactly(cls, k):
    # A -> 2^k A, l2 -> 4^k l2 maps the minimizer to x*/2^k: Newton's stopping rule is relative, so it is exact
    rng = np.random.default_rng(0)
    A, y = rng.standard_normal((20, 3)), np.sign(rng.standard_normal(20))
    base, scaled = cls(A, y, l2=0.1), cls(A * 2.0**k, y, l2=0.1 * 4.0**k)
    np.testing.assert_array_equal(scaled.x_star, base.x_star / 2.0**k)
    assert scaled.f_star == base.f_star and scaled.mu == base.mu * 4.0**k
    assert np.linalg.norm(base.gradient(base.x_star)) < 1e-14
