"""Networks whose runs share their order are trained several at a time, one network per vector lane
(cpp/include/optcore/mlp_lanes.hpp). Each run must get the bits it gets when trained on its own: the same order
given per run (explicit orders with one row per run) takes the one-network-at-a-time pass, and the two must agree
exactly."""

import warnings

import numpy as np
import pytest
from mlp_reference import random_data

import optcore
from optcore.nn import MLP, NetworkProblem


def data(widths, loss, n, dtype, seed=0):
    return random_data(widths, loss, n, dtype, seed)


def train_both_ways(net, X, Y, runs, epochs, batch_size, eta, order_seed=3):
    problem = NetworkProblem(net, X, Y)
    theta0 = net.init(runs, seed=5)
    steps = np.random.default_rng(order_seed).permutation(len(X))  # one order, used by every run and epoch
    common = dict(epochs=epochs, batch_size=batch_size, step_size=eta, x0=theta0, record=("objective", "accuracy"))
    shared = optcore.run_sgd(problem, order=steps, **common)  # (N,): every run visits the same indices
    per_run = optcore.run_sgd(problem, order=np.broadcast_to(steps, (runs, epochs, len(X))).copy(), **common)
    return shared, per_run


CASES = [
    # widths, activation, loss, bias, batch (every layer <= 64 wide: the one-example arithmetic, which
    # add_grad_batch() computes a block of examples at a time, mlp_small.hpp; networks with a layer wider than 64
    # take matrix products, mlp_gemm.hpp, and the group pass does not take them)
    ([4, 6, 5, 1], "relu", "squared", True, 12),
    ([4, 6, 1], "tanh", "logistic", True, 7),
    ([3, 5, 5, 2], "leaky", "squared", False, 9),
    ([3, 8, 3], "softplus", "softmax_ce", True, 16),
    ([5, 7, 1], "hardtanh", "exponential", False, 5),
    ([3, 4, 4, 4, 1], "sigmoid", "squared", True, 8),
    ([4, 6, 5, 1], "relu", "squared", True, 3),
    ([3, 40, 1], "relu", "logistic", True, 10),
    ([3, 33, 5, 1], "linear", "squared", False, 16),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("widths", "activation", "loss", "bias", "batch"), CASES)
def test_group_pass_gives_each_run_its_own_bits(dtype, widths, activation, loss, bias, batch):
    kwargs = {"slopes": (1.0, 0.2)} if activation == "leaky" else {}
    net = MLP(widths, activation=activation, loss=loss, bias=bias, dtype=dtype, **kwargs)
    X, Y = data(widths, loss, n=16, dtype=dtype)
    shared, per_run = train_both_ways(net, X, Y, runs=11, epochs=3, batch_size=batch, eta=0.05)
    assert np.all(np.isfinite(shared.x))
    np.testing.assert_array_equal(shared.x, per_run.x)
    np.testing.assert_array_equal(shared.objective, per_run.objective)
    np.testing.assert_array_equal(shared.accuracy, per_run.accuracy)


def test_group_pass_matches_a_run_alone_and_any_thread_count():
    net = MLP([5, 12, 12, 1], activation="relu", loss="squared")
    X, Y = data([5, 12, 12, 1], "squared", n=30, dtype=np.float64)
    problem = NetworkProblem(net, X, Y)
    theta0 = net.init(13, seed=2)
    common = dict(order="incremental", epochs=20, batch_size=30, step_size=0.05)
    many = optcore.run_sgd(problem, x0=theta0, threads=1, **common)
    two = optcore.run_sgd(problem, x0=theta0, threads=2, **common)
    alone = optcore.run_sgd(problem, x0=theta0[9], **common)
    np.testing.assert_array_equal(many.x, two.x)
    np.testing.assert_array_equal(many.x[9], alone.x[0])


def test_full_batch_gd_in_groups_matches_numpy_gradient_descent():
    """Independent check: plain NumPy full-batch GD with the MLP's own loss_and_grad."""
    widths = [4, 10, 1]
    net = MLP(widths, activation="tanh", loss="squared", dtype=np.float64)
    X, Y = data(widths, "squared", n=20, dtype=np.float64)
    theta0 = net.init(9, seed=1)
    res = optcore.run_sgd(
        NetworkProblem(net, X, Y), order="incremental", epochs=15, batch_size=20, step_size=0.1, x0=theta0
    )
    for r in range(9):
        theta = theta0[r].copy()
        for _ in range(15):
            theta = theta - 0.1 * net.loss_and_grad(theta, X, Y)[1]
        np.testing.assert_allclose(res.x[r], theta, rtol=1e-11, atol=1e-13)


def test_diverging_run_in_a_group_leaves_the_others_alone():
    net = MLP([3, 6, 1], activation="relu", loss="squared")
    X, Y = data([3, 6, 1], "squared", n=12, dtype=np.float64)
    problem = NetworkProblem(net, X, Y)
    theta0 = net.init(5, seed=0)
    steps = np.array([0.05, 0.05, 1e3, 0.05, 0.05])
    common = dict(order="incremental", epochs=30, batch_size=12, x0=theta0)
    with pytest.warns(RuntimeWarning, match="diverged"):
        res = optcore.run_sgd(problem, step_size=steps, **common)
    alone = optcore.run_sgd(problem, step_size=0.05, **{**common, "x0": theta0[[0, 1, 3, 4]]})
    assert res.diverged.tolist() == [False, False, True, False, False]
    np.testing.assert_array_equal(res.x[[0, 1, 3, 4]], alone.x)


def test_masked_networks_keep_their_zeros_under_full_batch_gd_in_groups():
    widths = [4, 6, 1]
    mask = np.ones((6, 4))
    mask[:, 2:] = 0
    mask[0, 0] = 0
    net = MLP(widths, activation="relu", loss="squared", masks=[mask, None])
    X, Y = data(widths, "squared", n=12, dtype=np.float64)
    theta0 = net.init(9, seed=3)
    res = optcore.run_sgd(
        NetworkProblem(net, X, Y), order="incremental", epochs=20, batch_size=12, step_size=0.1, x0=theta0
    )
    W1 = res.x[:, : 6 * 4].reshape(9, 6, 4)
    assert np.all(W1[:, mask == 0] == 0) and np.all(W1[:, mask == 1] != 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("widths", "activation", "loss", "n"),
    [
        ([4, 6, 5, 1], "relu", "squared", 16),
        ([3, 8, 3], "tanh", "softmax_ce", 6),
        ([3, 40, 1], "softplus", "logistic", 12),
    ],
)
def test_full_batch_objective_records_keep_their_bits(dtype, widths, activation, loss, n):
    """Full-batch GD recording only the objective takes each epoch-end objective from the next step's gradient
    pass; it must equal the objective computed on its own (per-run orders), including for groups too small for
    the lanes pass (9 runs: a group of 8 and a group of 1)."""
    net = MLP(widths, activation=activation, loss=loss, dtype=dtype)
    X, Y = data(widths, loss, n=n, dtype=dtype)
    problem = NetworkProblem(net, X, Y)
    theta0 = net.init(9, seed=4)
    common = dict(epochs=6, batch_size=n, step_size=0.05, x0=theta0, record=("objective",))
    shared = optcore.run_sgd(problem, order="incremental", **common)
    per_run = optcore.run_sgd(problem, order=np.broadcast_to(np.arange(n), (9, 6, n)).copy(), **common)
    np.testing.assert_array_equal(shared.x, per_run.x)
    np.testing.assert_array_equal(shared.objective, per_run.objective)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(shared.objective[:, -1], problem.objective(shared.x), rtol=rtol)


RECORDS = [("objective",), ("objective", "accuracy"), ("accuracy",)]
RECORD_CASES = [
    ([4, 6, 5, 1], "relu", "squared", 16),
    ([3, 8, 3], "relu", "softmax_ce", 6),
    ([3, 40, 1], "softplus", "logistic", 12),
    ([4, 6, 2], "relu", "squared", 10),  # two outputs: the accuracy compares argmaxes
]


def _records_of(res, record):
    return [getattr(res, name) for name in record]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("widths", "activation", "loss", "n"), RECORD_CASES)
@pytest.mark.parametrize("record", RECORDS, ids="+".join)
@pytest.mark.parametrize("record_every", [None, 1, 2])
def test_full_batch_records_from_the_gradient_pass_keep_their_bits(dtype, widths, activation, loss, n, record,
                                                                   record_every):
    """Full-batch GD takes the objective and the accuracy recorded after a step from the next step's gradient pass
    (the group pass, GroupBatchGrad::grads, or each run's own). They, and the iterates, must equal what separate
    passes give: the same order given explicitly (one row shared by every run) takes the group pass without the
    fusion (records from one lanes pass per group), per-run orders take neither, and net.accuracy /
    problem.objective at the recorded iterates are the separate passes themselves. 9 runs: a group of 8 and a
    group of 1 (too small for the lanes pass); five of the 8 get step sizes that make them diverge at different
    epochs, so that the group's live runs drop below the lanes pass's minimum mid-way, and a run can die between a
    record and the step that fills it."""
    net = MLP(widths, activation=activation, loss=loss, dtype=dtype)
    X, Y = data(widths, loss, n=n, dtype=dtype)
    problem = NetworkProblem(net, X, Y)
    runs, epochs = 9, 10
    theta0 = net.init(runs, seed=4)
    steps = np.full(runs, 0.05)
    steps[[0, 2, 3, 5, 6]] = [1e3, 1e10, 1e20, 1e30, 1e38]  # every case has runs diverging, most after a few epochs
    common = dict(epochs=epochs, batch_size=n, step_size=steps, x0=theta0, record=record, record_every=record_every)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the diverging runs
        fused = optcore.run_sgd(problem, order="incremental", **common)
        shared = optcore.run_sgd(problem, order=np.arange(n), **common)
        per_run = optcore.run_sgd(problem, order=np.broadcast_to(np.arange(n), (runs, epochs, n)).copy(), **common)
        with_iterates = optcore.run_sgd(problem, order="incremental", record_iterates=True, **common)
    assert fused.diverged[[0, 2, 3, 5, 6]].any() and not fused.diverged[[1, 4, 7, 8]].any()
    for other in (shared, per_run, with_iterates):
        np.testing.assert_array_equal(fused.x, other.x)
    for other in (shared, per_run):
        for a, b in zip(_records_of(fused, record), _records_of(other, record), strict=True):
            np.testing.assert_array_equal(a, b)
    # the separate passes themselves, at every finite recorded iterate (recording the iterates turns the fusion
    # off; records after an iterate that is not finite are NaN there, and need not be in the others)
    its = with_iterates.iterates.reshape(-1, net.n_params)
    finite = np.all(np.isfinite(its), axis=1)
    assert finite.sum() > runs * 2 and not finite.all()
    for name in record:
        np.testing.assert_array_equal(getattr(fused, name).reshape(-1)[finite],
                                      getattr(with_iterates, name).reshape(-1)[finite])
    if "accuracy" in record:
        np.testing.assert_array_equal(fused.accuracy.reshape(-1)[finite], net.accuracy(its[finite], X, Y))
    if "objective" in record:
        np.testing.assert_array_equal(fused.objective.reshape(-1)[finite], problem.objective(its[finite]))
