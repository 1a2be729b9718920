"""Generic certificates: second-order classification and the bad input of the certificate functions."""

import numpy as np
import pytest

from optcore.landscape import (
    classify_second_order,
    gradient_norm,
    hessian_spectrum,
    higher_order_test,
    random_perturbation_test,
    theorem1,
)


def quad(p):
    p = np.atleast_2d(p)
    return p[:, 0] ** 2 - p[:, 1] ** 2 + p[:, 2] ** 4


def test_classify_second_order():
    assert classify_second_order(0.0, [1.0, 2.0]) == "strict local min"
    assert classify_second_order(0.0, [-1.0, -2.0]) == "strict local max"
    assert classify_second_order(0.0, [-1.0, 2.0]) == "saddle"
    assert classify_second_order(0.0, [0.0, 2.0]) == "degenerate"
    assert classify_second_order(1e-15, [1e-12, 2.0], eig_tol=1e-9) == "degenerate"
    assert classify_second_order(1.0, [1.0, 2.0]) == "not critical"


def test_random_and_higher_order_tests_on_a_known_function():
    p0 = np.zeros(3)
    H = np.diag([2.0, -2.0, 0.0])
    assert not random_perturbation_test(quad, p0, radii=(1e-2,), samples=200).passed
    ho = higher_order_test(quad, p0, np.diag([2.0, 2.0, 0.0]))
    assert ho.null_dim == 1 and ho.derivatives[0, 3] == pytest.approx(24.0, rel=1e-6)
    assert higher_order_test(quad, p0, np.eye(3)).verdict == "nonsingular"
    # along the x2 axis (listed as null here) the loss falls: descent
    assert higher_order_test(quad, p0, np.diag([2.0, 0.0, 0.0])).verdict == "descent"
    assert H.shape == (3, 3)


def test_certificate_bad_input():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 2))
    y = np.sin(3 * X[:, 0])
    c = theorem1(X, y)
    with pytest.raises(TypeError, match="MLP"):
        gradient_norm("net", c.local_min, X, y)
    with pytest.raises(ValueError, match="params must have shape"):
        hessian_spectrum(c.mlp, c.local_min[:-1], X, y)
    with pytest.raises(TypeError, match="loss must be callable"):
        random_perturbation_test(None, c.local_min)
    with pytest.raises(ValueError, match="radii"):
        random_perturbation_test(quad, np.zeros(3), radii=(0.0,))
    with pytest.raises(ValueError, match="samples must be >= 1"):
        random_perturbation_test(quad, np.zeros(3), samples=0)
    with pytest.raises(ValueError, match="not finite"):
        random_perturbation_test(lambda p: np.full(len(p), np.nan), np.zeros(3))
    with pytest.raises(ValueError, match="hessian must have shape"):
        higher_order_test(quad, np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="step"):
        higher_order_test(quad, np.zeros(3), np.eye(3), step=-1.0)
    with pytest.raises(ValueError, match="eigenvalues must not be empty"):
        classify_second_order(0.0, [])
    with pytest.raises(ValueError, match="grad_norm"):
        classify_second_order(np.nan, [1.0])
