"""Narrow networks (every layer at most 64 units) compute their batch gradients a block of examples at a time
(cpp/include/optcore/mlp_small.hpp) with the arithmetic of one example at a time, and full-batch GD of a run alone
takes each epoch-end objective from the next step's forward pass (engine.hpp, MLP::add_grad_batch_objective).

Checked here: gradients and objectives against the independent NumPy reference (float64 to 1e-12) for every
activation and loss, shapes whose widths are not multiples of the vector width, batches with remainders (5, 13, 33)
and batches of more than one block (> 64 examples); the bits of a run alone against the group pass
(mlp_lanes.hpp, which replicates the one-example arithmetic), against any thread count, and against the portable
(SSE2) copy of the loops; the fused objective against the objective computed on its own, and where it must not be
used (dropped examples, explicit orders with repeated indices); accuracy against the NumPy classification rules."""

import numpy as np
import pytest
from mlp_reference import classified, forward, objective_and_grad, random_data

import optcore
from optcore.nn import MLP, NetworkProblem

ACTIVATIONS = ["relu", "leaky", "linear", "hardtanh", "tanh", "sigmoid", "softplus"]
LOSSES = ["squared", "logistic", "exponential", "softmax_ce"]
SLOPES = (1.0, 0.2)


def data(widths, loss, n, dtype, seed=0):
    return random_data(widths, loss, n, dtype, seed)


def network(widths, activation, loss, bias=True, dtype=np.float64, reduction="mean"):
    kwargs = {"slopes": SLOPES} if activation == "leaky" else {}
    return MLP(widths, activation=activation, loss=loss, bias=bias, dtype=dtype, reduction=reduction, **kwargs)


def out_width(loss, width):
    return {"squared": width, "softmax_ce": width}.get(loss, 1)


# (widths, activation, loss, bias, n): layers 33..64 wide and narrow ones, widths that are not multiples of 4 or 8
GRADIENT_CASES = [
    ([10, 64, 64, 2], "relu", "squared", True, 33),
    ([7, 37, 41, 1], "leaky", "logistic", False, 13),
    ([5, 64, 3], "tanh", "softmax_ce", True, 70),
    ([9, 16, 16, 1], "sigmoid", "exponential", True, 5),
    ([3, 50, 1], "softplus", "squared", False, 64),
    ([12, 33, 9, 5], "hardtanh", "softmax_ce", False, 2),
    ([4, 40, 40, 40, 1], "linear", "squared", True, 130),
    ([4, 6, 70], "relu", "softmax_ce", True, 12),  # an output wider than 64: matrix products (mlp_gemm.hpp)
]


@pytest.mark.parametrize(("widths", "activation", "loss", "bias", "n"), GRADIENT_CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradient_and_objective_match_numpy(widths, activation, loss, bias, n, reduction):
    net = network(widths, activation, loss, bias, reduction=reduction)
    X, Y = data(widths, loss, n, np.float64)
    theta = net.init(2, seed=3)
    F, G = net.loss_and_grad(theta, X, Y)
    for r in range(2):
        F_ref, G_ref = objective_and_grad(widths, activation, bias, loss, reduction, theta[r], X, Y, slopes=SLOPES)
        np.testing.assert_allclose(F[r], F_ref, rtol=1e-12)
        np.testing.assert_allclose(G[r], G_ref, rtol=1e-12, atol=1e-12 * np.abs(G_ref).max())


ACCURACY_CASES = [  # every classification rule; n = 130: three blocks of examples, the last one partial
    ([10, 64, 64, 3], "relu", "softmax_ce"),
    ([7, 37, 2], "tanh", "squared"),
    ([9, 16, 16, 1], "leaky", "squared"),
    ([5, 40, 1], "softplus", "logistic"),
    ([3, 12, 1], "hardtanh", "exponential"),
]


@pytest.mark.parametrize(("widths", "activation", "loss"), ACCURACY_CASES)
def test_accuracy_matches_numpy(widths, activation, loss):
    """MLP::accuracy() of a narrow network goes through the block pass (SmallBatch::correct)."""
    net = network(widths, activation, loss)
    X, Y = data(widths, loss, 130, np.float64)
    theta = net.init(3, seed=1)
    want = [classified(loss, forward(widths, activation, True, theta[r], X, SLOPES), Y).mean() for r in range(3)]
    np.testing.assert_array_equal(net.accuracy(theta, X, Y), want)
    assert 0 < min(want) and max(want) < 1  # a test that both answers can fail


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float32_gradient_matches_numpy(activation):
    widths = [6, 45, 20, 1]
    net = network(widths, activation, "squared", dtype=np.float32)
    X, Y = data(widths, "squared", 37, np.float32)
    theta = net.init(1, seed=1)[0]
    F, G = net.loss_and_grad(theta, X, Y)
    F_ref, G_ref = objective_and_grad(widths, activation, True, "squared", "mean", theta, X, Y, slopes=SLOPES)
    np.testing.assert_allclose(F, F_ref, rtol=1e-5)
    np.testing.assert_allclose(G, G_ref, rtol=1e-4, atol=1e-5 * np.abs(G_ref).max())


@pytest.mark.parametrize("batch_size", [2, 5, 13, 33])
def test_minibatch_training_matches_numpy_steps(batch_size):
    """The engine's minibatch steps (block pass, remainder batches included) against NumPy steps on the same
    index stream."""
    widths = [5, 36, 1]
    net = network(widths, "tanh", "squared")
    X, Y = data(widths, "squared", 40, np.float64)
    problem = NetworkProblem(net, X, Y)
    theta0 = net.init(2, seed=1)
    K, eta = 2, 0.05
    res = optcore.run_sgd(problem, order="rr", epochs=K, step_size=eta, x0=theta0, seed=4, batch_size=batch_size)
    idx = optcore.epoch_orders("rr", 40, K, seed=4, runs=2)
    for r in range(2):
        theta = theta0[r].copy()
        for k in range(K):
            for s in range(0, 40, batch_size):
                batch = idx[r, k, 0, s : s + batch_size]
                _, g = objective_and_grad(widths, "tanh", True, "squared", "mean", theta, X[batch], Y[batch])
                theta = theta - eta * g
        np.testing.assert_allclose(res.x[r], theta, rtol=1e-12, atol=1e-13)


def every_activation_and_loss():
    # every activation and every loss at least once, both dtypes, with and without biases
    cases = []
    for i, activation in enumerate(ACTIVATIONS):
        loss = LOSSES[(i + 2) % len(LOSSES)]
        widths = [[6, 40, 3], [3, 64, 17, 1], [8, 20, 33, 4]][i % 3]
        widths = widths[:-1] + [out_width(loss, widths[-1])]
        cases.append((widths, activation, loss, i % 2 == 0, [5, 13, 33, 70][i % 4]))
    return cases


def train_both_ways(net, X, Y, runs, epochs, batch_size, eta, record=("objective", "accuracy")):
    problem = NetworkProblem(net, X, Y)
    theta0 = net.init(runs, seed=5, scale=0.5)
    steps = np.random.default_rng(3).permutation(len(X))
    common = dict(epochs=epochs, batch_size=batch_size, step_size=eta, x0=theta0, record=record)
    shared = optcore.run_sgd(problem, order=steps, **common)  # the group pass (one network per vector lane)
    per_run = optcore.run_sgd(problem, order=np.broadcast_to(steps, (runs, epochs, len(X))).copy(), **common)
    return shared, per_run


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("widths", "activation", "loss", "bias", "batch"), every_activation_and_loss())
def test_block_pass_gives_the_bits_of_the_group_pass(dtype, widths, activation, loss, bias, batch):
    net = network(widths, activation, loss, bias, dtype=dtype)
    X, Y = data(widths, loss, 70, dtype)
    shared, per_run = train_both_ways(net, X, Y, runs=9, epochs=2, batch_size=batch, eta=0.002)
    assert np.all(np.isfinite(shared.x))
    np.testing.assert_array_equal(shared.x, per_run.x)
    np.testing.assert_array_equal(shared.objective, per_run.objective)
    np.testing.assert_array_equal(shared.accuracy, per_run.accuracy)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_and_a_run_alone_give_the_same_bits(dtype):
    widths = [10, 64, 64, 1]
    net = network(widths, "relu", "squared", dtype=dtype)
    X, Y = data(widths, "squared", 33, dtype)
    problem = NetworkProblem(net, X, Y)
    theta0 = net.init(6, seed=2)
    common = dict(order="rr", epochs=3, batch_size=13, step_size=0.02, seed=7, record=("objective",))
    one = optcore.run_sgd(problem, x0=theta0, threads=1, **common)
    two = optcore.run_sgd(problem, x0=theta0, threads=2, **common)
    np.testing.assert_array_equal(one.x, two.x)
    np.testing.assert_array_equal(one.objective, two.objective)
    alone = optcore.run_sgd(problem, x0=theta0[4], run_ids=[4], threads=1, **common)
    np.testing.assert_array_equal(one.x[4], alone.x[0])
    np.testing.assert_array_equal(one.objective[4], alone.objective[0])


@pytest.mark.skipif(not optcore._core.isa_info()["avx2_used"], reason="this build or CPU has no AVX2 copy of the loops")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_portable_and_avx2_copies_give_the_same_bits(dtype, monkeypatch):
    widths = [7, 45, 19, 2]
    net = network(widths, "leaky", "squared", dtype=dtype)
    X, Y = data(widths, "squared", 70, dtype)
    problem = NetworkProblem(net, X, Y)
    theta0 = net.init(3, seed=2)
    results = {}
    for isa in ("portable", "avx2"):
        monkeypatch.setenv("OPTCORE_ISA", isa)
        results[isa] = [
            optcore.run_sgd(
                problem, x0=theta0, order="incremental", epochs=3, batch_size=b, step_size=0.02, record=("objective",)
            )
            for b in (5, 70)
        ]
    for a, b in zip(results["portable"], results["avx2"], strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.objective, b.objective)


FUSED_CASES = [
    ([10, 64, 64, 1], "relu", "squared", 32),  # block pass, fused objective
    ([10, 16, 16, 1], "tanh", "logistic", 7),  # block pass, a batch smaller than a vector of float32
    ([4, 6, 70], "softplus", "softmax_ce", 12),  # an output wider than 64: matrix products, fused
    ([4, 6, 70], "relu", "softmax_ce", 6),
    ([3, 80, 1], "sigmoid", "exponential", 9),  # a hidden layer wider than 64: matrix products
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("widths", "activation", "loss", "n"), FUSED_CASES)
@pytest.mark.parametrize("record", [("objective",), ("objective", "accuracy"), ("accuracy",)], ids="+".join)
@pytest.mark.parametrize("record_every", [None, 2])
def test_fused_records_of_a_run_alone_keep_their_bits(dtype, widths, activation, loss, n, record, record_every):
    """Full-batch GD of one run takes the objective and the accuracy recorded after a step from the next step's
    gradient pass; they must equal the values computed on their own (recording the iterates too turns the fusion
    off) and the separate passes (problem.objective, net.accuracy) at the recorded iterates."""
    net = network(widths, activation, loss, dtype=dtype)
    X, Y = data(widths, loss, n, dtype)
    problem = NetworkProblem(net, X, Y)
    theta0 = net.init(1, seed=4)[0]
    common = dict(order="incremental", epochs=5, batch_size=n, step_size=0.05, x0=theta0, record_every=record_every)
    fused = optcore.run_sgd(problem, record=record, **common)
    alone = optcore.run_sgd(problem, record=record, record_iterates=True, **common)
    np.testing.assert_array_equal(fused.x, alone.x)
    for name in record:
        np.testing.assert_array_equal(getattr(fused, name), getattr(alone, name))
    if "objective" in record:
        np.testing.assert_array_equal(fused.objective[0], problem.objective(alone.iterates[0]))
    if "accuracy" in record:
        np.testing.assert_array_equal(fused.accuracy[0], net.accuracy(alone.iterates[0], X, Y))


@pytest.mark.parametrize("runs", [1, 9])
def test_fused_objective_is_not_used_when_the_batch_misses_examples(runs):
    """remainder="drop" with a batch of 3/4 of the data: one step per epoch that leaves examples out, so the
    step's forward pass cannot give the objective; explicit orders may repeat indices."""
    widths = [4, 12, 1]
    net = network(widths, "relu", "squared")
    X, Y = data(widths, "squared", 16, np.float64)
    problem = NetworkProblem(net, X, Y)
    theta0 = net.init(runs, seed=1)
    settings = [
        dict(order="incremental", batch_size=12, remainder="drop"),
        dict(order=np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7]), batch_size=16),
    ]
    for setting in settings:
        res = optcore.run_sgd(
            problem, epochs=4, step_size=0.05, x0=theta0, record=("objective",), record_iterates=True, **setting
        )
        only = optcore.run_sgd(problem, epochs=4, step_size=0.05, x0=theta0, record=("objective",), **setting)
        np.testing.assert_array_equal(res.objective, only.objective)
        for r in range(runs):
            np.testing.assert_allclose(only.objective[r], problem.objective(res.iterates[r]), rtol=1e-12)
