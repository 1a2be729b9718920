"""Networks: derivatives against finite differences and the independent NumPy implementation; HVPs against the
dense Hessian and against differences of gradients; training through the engine against a NumPy reference."""

import itertools

import numpy as np
import pytest
from mlp_reference import objective_and_grad, random_data, sgd_steps

import optcore
from optcore.nn import ACTIVATIONS, LOSSES, MLP, NetworkProblem

SMOOTH = ["linear", "tanh", "sigmoid", "softplus"]


def data_for(loss, widths, n=7, seed=0):
    return random_data(widths, loss, n, np.float64, seed)


def widths_for(loss, depth):
    out = 1 if loss in ("logistic", "exponential") else 3
    return [4] + [5] * depth + [out]


# the quantized activation is piecewise constant (coarse gradients): tests/test_quantized_net.py checks it
SMOOTH_OR_PIECEWISE_LINEAR = [a for a in ACTIVATIONS if a != "quantized"]
CASES = list(itertools.product(SMOOTH_OR_PIECEWISE_LINEAR, LOSSES, [1, 2, 3, 4], [True, False]))


@pytest.mark.parametrize(("activation", "loss", "depth", "bias"), CASES)
def test_gradient_against_numpy_and_finite_differences(activation, loss, depth, bias):
    widths = widths_for(loss, depth)
    net = MLP(widths, activation=activation, bias=bias, loss=loss, slopes=(1.3, 0.2))
    X, Y = data_for(loss, widths)
    # random biases too: with zero biases a unit whose inputs are all dead sits exactly on a kink
    theta = net.init(1, scheme="gaussian", scale=0.5, seed=3)[0] + 0.1 * np.random.default_rng(9).standard_normal(
        net.n_params
    )
    F, g = net.loss_and_grad(theta, X, Y)
    F_ref, g_ref = objective_and_grad(widths, activation, bias, loss, "mean", theta, X, Y, slopes=(1.3, 0.2))
    assert F == pytest.approx(F_ref, rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-13)
    # central differences; at a kink of a piecewise-linear activation they are not defined: skip those coordinates
    h = 1e-6
    rng = np.random.default_rng(1)
    for j in rng.choice(net.n_params, size=min(12, net.n_params), replace=False):
        e = np.zeros(net.n_params)
        e[j] = h
        fd = (net.loss_value(theta + e, X, Y) - net.loss_value(theta - e, X, Y)) / (2 * h)
        assert fd == pytest.approx(g[j], rel=1e-6, abs=1e-8), j


@pytest.mark.parametrize(("activation", "loss"), list(itertools.product(SMOOTH + ["relu"], LOSSES)))
@pytest.mark.parametrize("bias", [True, False])
def test_hvp_dense_hessian_and_gradient_differences(activation, loss, bias):
    widths = widths_for(loss, 2)
    net = MLP(widths, activation=activation, bias=bias, loss=loss)
    X, Y = data_for(loss, widths, seed=2)
    theta = net.init(1, scheme="gaussian", scale=0.7, seed=5)[0]
    H = net.hessian(theta, X, Y)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
    v = np.random.default_rng(4).standard_normal(net.n_params)
    hv = net.hvp(theta, X, Y, v)
    np.testing.assert_allclose(hv, H @ v, rtol=1e-10, atol=1e-12)
    h = 1e-5
    fd = (net.loss_and_grad(theta + h * v, X, Y)[1] - net.loss_and_grad(theta - h * v, X, Y)[1]) / (2 * h)
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-7)


def test_batched_networks_and_float32():
    net = MLP([3, 6, 2], activation="tanh", loss="softmax_ce")
    X, Y = data_for("softmax_ce", [3, 6, 2])
    thetas = net.init(5, seed=1)
    F, g = net.loss_and_grad(thetas, X, Y)
    for r in range(5):
        Fr, gr = net.loss_and_grad(thetas[r], X, Y)
        assert F[r] == Fr and np.array_equal(g[r], gr)
    net32 = MLP([3, 6, 2], activation="tanh", loss="softmax_ce", dtype=np.float32)
    F32, g32 = net32.loss_and_grad(thetas.astype(np.float32), X, Y)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g, rtol=2e-4, atol=2e-5)


def test_per_example_gradients_average_to_the_gradient():
    net = MLP([3, 4, 1], activation="softplus", loss="logistic", reduction="sum")
    X, Y = data_for("logistic", [3, 4, 1])
    theta = net.init(1, seed=2)[0]
    per = net.per_example_grads(theta, X, Y)
    np.testing.assert_allclose(per.mean(axis=0), net.loss_and_grad(theta, X, Y)[1], rtol=1e-12, atol=1e-14)


def test_init_is_seeded_and_scaled():
    net = MLP([50, 400, 1])
    a, b = net.init(2, seed=7), net.init(2, seed=7)
    assert np.array_equal(a, b) and not np.array_equal(a[0], a[1])
    W = net.unpack(a[0])[0][0]
    assert W.std() == pytest.approx(np.sqrt(2 / 50), rel=0.05)
    assert np.all(net.unpack(a[0])[0][1] == 0)


@pytest.mark.parametrize("order", ["rr", "wr", "ig"])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_training_through_the_engine_matches_numpy_steps(order, batch_size):
    widths = [3, 5, 5, 1]
    net = MLP(widths, activation="tanh", loss="squared")
    X, Y = data_for("squared", widths, n=9)
    problem = NetworkProblem(net, X, Y)
    theta0 = net.init(2, seed=1)
    K, eta = 3, 0.05
    res = optcore.run_sgd(problem, order=order, epochs=K, step_size=eta, x0=theta0, seed=4, batch_size=batch_size)
    idx = optcore.epoch_orders(order, 9, K, seed=4, runs=2)
    np.testing.assert_allclose(res.x, sgd_steps(widths, theta0, X, Y, idx, eta, batch_size), rtol=1e-12, atol=1e-13)
    assert res.accuracy.shape == (2, K + 1) and res.objective.shape == (2, K + 1)


def test_full_batch_gd_decreases_the_loss_and_records_accuracy():
    net = MLP([2, 16, 1], activation="relu", loss="logistic")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    Y = np.sign(X[:, 0] * X[:, 1])
    res = optcore.run_sgd(
        NetworkProblem(net, X, Y), order="ig", epochs=300, batch_size=40, step_size=0.5, x0=net.init(4, seed=0), runs=4
    )
    assert np.all(res.objective[:, -1] < res.objective[:, 0])
    assert np.all(res.accuracy[:, -1] >= 0.8)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: MLP([3]), ValueError, "widths must be a sequence of at least two"),
        (lambda: MLP([3, 0, 1]), ValueError, "widths must all be >= 1"),
        (lambda: MLP([3, 1], activation="gelu"), ValueError, "activation must be one of"),
        (lambda: MLP([3, 1], loss="hinge"), ValueError, "loss must be one of"),
        (lambda: MLP([3, 2], loss="logistic"), ValueError, "needs one output"),
        (lambda: MLP([3, 1], dtype=np.int32), TypeError, "float32 or float64"),
        (lambda: MLP([3, 1]).loss_value(np.zeros(4), np.zeros((2, 4)), np.zeros(2)), ValueError, "X must have 3"),
        (lambda: MLP([3, 1]).loss_value(np.zeros(5), np.zeros((2, 3)), np.zeros(2)), ValueError, "4 entries"),
        (lambda: MLP([3, 1]).loss_value(np.zeros(4), np.full((2, 3), np.nan), np.zeros(2)), ValueError, "finite"),
        (
            lambda: MLP([3, 1], loss="logistic").loss_value(np.zeros(4), np.zeros((2, 3)), [1, 0]),
            ValueError,
            r"labels in \{-1, \+1\}",
        ),
        (
            lambda: MLP([3, 2], loss="softmax_ce").loss_value(np.zeros(8), np.zeros((2, 3)), [0, 2]),
            ValueError,
            "class indices",
        ),
        (lambda: NetworkProblem("net", np.zeros((2, 3)), np.zeros(2)), TypeError, "mlp must be"),
    ],
)
def test_bad_input(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("n", [3, 8, 13, 40])
def test_wide_network_gradients(n):
    # 40-wide layers: mlp_small.hpp's block pass, with more parameters than fit an L1 cache eight times over
    widths = [6, 40, 40, 2]
    net = MLP(widths, activation="tanh", loss="squared")
    assert net.n_params * 8 * 8 > 64 * 1024
    X, Y = data_for("squared", widths, n=n, seed=5)
    theta = net.init(1, seed=2)[0]
    F, g = net.loss_and_grad(theta, X, Y)
    F_ref, g_ref = objective_and_grad(widths, "tanh", True, "squared", "mean", theta, X, Y)
    assert F == pytest.approx(F_ref, rel=1e-12)
    np.testing.assert_allclose(g, g_ref, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("loss", ["squared", "logistic", "exponential", "softmax_ce"])
def test_forward_needs_no_targets_for_any_loss(loss):
    widths = [3, 4, 3 if loss in ("squared", "softmax_ce") else 1]
    net = MLP(widths, activation="tanh", loss=loss)
    theta = net.init(1, seed=0)[0]
    X = np.random.default_rng(0).standard_normal((5, 3))
    W1, b1 = net.unpack(theta)[0]
    W2, b2 = net.unpack(theta)[1]
    expected = np.tanh(X @ W1.T + b1) @ W2.T + b2
    np.testing.assert_allclose(net.forward(theta, X), expected, rtol=1e-12, atol=1e-14)


def test_forward_of_classification_networks_needs_no_labels():
    """forward() ignores targets; its placeholder labels must pass the label checks of every loss."""
    X = np.random.default_rng(0).standard_normal((4, 2))
    for loss, d_out in (("logistic", 1), ("exponential", 1), ("softmax_ce", 3), ("squared", 2)):
        mlp = optcore.MLP([2, 3, d_out], loss=loss)
        assert mlp.forward(mlp.init(1)[0], X).shape == (4, d_out)
