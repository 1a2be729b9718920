"""The two-slope (``leaky``) activation with negative slopes (issue 16, item 5).

Its definition is h(z) = s+ z for z > 0 and s- z for z <= 0 (s+ max(z, 0) + s- min(z, 0)) with h'(0) = s-, for
any finite slopes; every C++ path (the scalar network code, the SIMD batches, the wide BLAS layers, the SGD lanes)
is checked here against that formula in NumPy, written independently of tests/mlp_reference.py.
"""

import numpy as np
import pytest

from optcore import MLP, run_sgd
from optcore.landscape import two_slope
from optcore.nn import NetworkProblem

# negative slopes on either side, both, a V shape, a zero slope; (1, 0.01) is the ordinary leaky ReLU
SLOPES = [(1.0, -0.5), (-0.7, 0.3), (-1.0, -2.0), (2.0, -2.0), (0.0, -1.0), (1.0, 0.01)]
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def h(z, s):
    return s[0] * np.maximum(z, 0.0) + s[1] * np.minimum(z, 0.0)


def dh(z, s):
    return np.where(z > 0, s[0], s[1])  # the left derivative at 0: s-


def reference(widths, theta, X, Y, s):
    """Outputs, mean squared loss 1/2 |f - y|^2 and its gradient of a biased network, by backpropagation."""
    layers, off = [], 0
    for i, o in zip(widths[:-1], widths[1:], strict=True):
        W = theta[off : off + o * i].reshape(o, i)
        b = theta[off + o * i : off + o * i + o]
        layers.append((W, b))
        off += o * i + o
    acts, pres = [X], []
    for k, (W, b) in enumerate(layers):
        z = acts[-1] @ W.T + b
        pres.append(z)
        acts.append(z if k == len(layers) - 1 else h(z, s))
    out, n = acts[-1], X.shape[0]
    loss = 0.5 * np.sum((out - Y) ** 2) / n
    delta, grads = (out - Y) / n, []
    for k in range(len(layers) - 1, -1, -1):
        grads = [delta.T @ acts[k], delta.sum(axis=0), *grads]
        if k:
            delta = (delta @ layers[k][0]) * dh(pres[k - 1], s)
    return out, loss, np.concatenate([g.ravel() for g in grads])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("slopes", SLOPES)
def test_value_and_derivative_of_one_unit(slopes, dtype):
    # f(z) = h(z) for the net z -> h(z) (W1 = 1, b1 = 0, W2 = 1, b2 = 0); d loss / d b1 = (h(z) - y) h'(z)
    z = np.array([-3.0, -1.0, -0.25, -0.0, 0.0, 1e-30, 0.5, 2.0])
    net = MLP([1, 1, 1], activation="leaky", slopes=slopes, dtype=dtype)
    theta = np.array([1.0, 0.0, 1.0, 0.0])
    f = net.forward(theta, z[:, None])[:, 0]
    np.testing.assert_allclose(f, h(z, slopes), rtol=TOL[dtype], atol=1e-30)
    grads = net.per_example_grads(theta, z[:, None], -np.ones(z.size))
    np.testing.assert_allclose(grads[:, 1], (h(z, slopes) + 1.0) * dh(z, slopes), rtol=TOL[dtype], atol=1e-30)
    np.testing.assert_allclose(grads[:, 3], h(z, slopes) + 1.0, rtol=TOL[dtype], atol=1e-30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("slopes", SLOPES[:4])
@pytest.mark.parametrize(("widths", "runs"), [([3, 7, 5, 2], 1), ([3, 7, 5, 2], 9), ([4, 80, 6, 1], 3)])
def test_networks_against_numpy(widths, runs, slopes, dtype):
    # one run (scalar code), nine runs (SIMD batches), a hidden width above 64 (BLAS layers)
    rng = np.random.default_rng(len(widths) * runs)
    net = MLP(widths, activation="leaky", slopes=slopes, dtype=dtype)
    X = rng.standard_normal((23, widths[0]))
    Y = rng.standard_normal((23, widths[-1]))
    theta = net.init(runs, seed=runs).astype(np.float64)
    theta = theta.astype(dtype).astype(np.float64)  # the values the network sees in its dtype
    out = net.forward(theta, X)
    loss, grad = net.loss_and_grad(theta, X, Y)
    for r in range(runs):
        out_ref, loss_ref, grad_ref = reference(widths, theta[r], X.astype(dtype).astype(np.float64), Y, slopes)
        scale = np.max(np.abs(grad_ref))
        np.testing.assert_allclose(out[r], out_ref, rtol=0, atol=TOL[dtype] * np.max(np.abs(out_ref)))
        np.testing.assert_allclose(loss[r], loss_ref, rtol=TOL[dtype])
        np.testing.assert_allclose(grad[r], grad_ref, rtol=0, atol=TOL[dtype] * scale * 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_gradient_step_of_the_sgd_engine(dtype):
    # the SGD loop evaluates the network with its own kernels: one full-batch step from theta0 is theta0 - eta grad
    slopes, widths = (1.0, -0.5), [2, 6, 1]
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((16, 2)), rng.standard_normal(16)
    net = MLP(widths, activation="leaky", slopes=slopes, dtype=dtype)
    theta0 = net.init(4, seed=1).astype(np.float64)
    res = run_sgd(
        NetworkProblem(net, X, Y),
        order="incremental",
        epochs=1,
        step_size=0.1,
        batch_size=16,
        x0=theta0,
        runs=4,
        record=(),
    )
    for r in range(4):
        _, _, g = reference(widths, theta0[r], X.astype(dtype).astype(np.float64), Y[:, None], slopes)
        np.testing.assert_allclose(res.x[r], theta0[r] - 0.1 * g, rtol=0, atol=TOL[dtype] * 10)


def test_landscape_two_slope_matches_and_refuses_non_invertible_slopes():
    act = two_slope(1.5, 0.25)
    z = np.array([-2.0, -0.0, 0.0, 3.0])
    np.testing.assert_array_equal(act.h(z), h(z, (1.5, 0.25)))
    np.testing.assert_array_equal(act.dh(z), dh(z, (1.5, 0.25)))
    assert act.invert(float(act.h(np.array(-2.0)))) == -2.0
    for bad in [(1.0, -0.5), (-1.0, 0.5), (0.0, 1.0), (np.inf, 0.0)]:
        with pytest.raises(ValueError, match="two_slope needs finite slopes s\\+ > 0 and s- >= 0"):
            two_slope(*bad)


@pytest.mark.parametrize("slopes", [(1.0, -0.5), (-1.0, -2.0)])
def test_hessian_with_negative_slopes_against_numpy(slopes):
    # the exact Hessian (R-operator) against central differences of the NumPy gradient, away from the kinks
    widths = [3, 5, 4, 2]
    rng = np.random.default_rng(11)
    net = MLP(widths, activation="leaky", slopes=slopes)
    X, Y = rng.standard_normal((12, 3)), rng.standard_normal((12, 2))
    theta = net.init(1, seed=5)[0]
    H = net.hessian(theta, X, Y)
    eps = 1e-6
    fd = np.empty_like(H)
    for k in range(theta.size):
        e = np.zeros(theta.size)
        e[k] = eps
        fd[:, k] = (reference(widths, theta + e, X, Y, slopes)[2] - reference(widths, theta - e, X, Y, slopes)[2]) / (
            2 * eps
        )
    np.testing.assert_allclose(H, fd, rtol=0, atol=1e-6 * np.max(np.abs(H)))
