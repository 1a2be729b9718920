"""Networks with a layer wider than 64 units: batches as matrix products (cpp/include/optcore/mlp_gemm.hpp) through
OpenBLAS (optcore._blas) or the portable fallback loop.

Every check runs on both gemm backends (the ``gemm`` fixture): against the independent NumPy implementation of
tests/mlp_reference.py, the engine against NumPy steps fed the same index stream, bitwise determinism (threads,
runs alone or in a batch, the two compiled copies of the loops), and the full-batch objective records that come
from the next step's gradient pass.
"""

import numpy as np
import pytest
from mlp_reference import classified, forward, objective_and_grad, random_data, sgd_steps

import optcore
from optcore import _blas, _core
from optcore.nn import MLP, NetworkProblem

RTOL = {np.float64: 1e-12, np.float32: 2e-5}  # float32: relative to the largest entry (the sums round to float32)


@pytest.fixture(params=["openblas", "none"], ids=["openblas", "fallback"])
def gemm(request):
    """The gemm behind the wide-layer pass, restored to the import-time choice afterwards."""
    before = _blas.info()["backend"]
    if request.param == "openblas" and before != "openblas" and _blas.load("auto") != "openblas":
        pytest.skip(f"OpenBLAS is not usable here: {_blas.info()['reason']}")
    _blas.load(request.param)
    yield request.param
    _blas.load("auto" if before == "openblas" else "none")


def data(widths, loss, n, dtype=np.float64, seed=0):
    return random_data(widths, loss, n, dtype, seed)


def close(got, want, dtype):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    scale = max(np.abs(want).max(), np.finfo(float).tiny)
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


# --- the matrix product itself ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("M", "N", "K"), [(1, 1, 1), (5, 3, 7), (37, 300, 9), (64, 513, 70)])
@pytest.mark.parametrize(("trans_a", "trans_b"), [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_against_numpy(gemm, dtype, M, N, K, trans_a, trans_b):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((K, M) if trans_a else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if trans_b else (K, N)).astype(dtype)
    C = rng.standard_normal((M, N)).astype(dtype)
    opA = A.T.astype(np.float64) if trans_a else A.astype(np.float64)
    opB = B.T.astype(np.float64) if trans_b else B.astype(np.float64)
    for alpha, beta in ((1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)):
        got = _core._gemm(A, B, C, trans_a, trans_b, dtype(alpha), dtype(beta))
        assert got.dtype == dtype
        close(got, alpha * opA @ opB + beta * C.astype(np.float64), dtype)


def test_gemm_bad_input():
    a = np.ones((2, 3))
    with pytest.raises(ValueError, match="shapes do not chain"):
        _core._gemm(a, a, np.ones((2, 2)), False, False, 1.0, 0.0)
    with pytest.raises(TypeError):
        _core._gemm(a.astype(np.float32), a, np.ones((2, 2)), False, True, 1.0, 0.0)
    with pytest.raises(ValueError, match="both gemm addresses or neither"):
        _core._set_gemm(1, 0)


# --- gradient, objective, accuracy against NumPy ----------------------------------------------------------------

CASES = [
    # widths, activation, loss, bias
    ([10, 100, 80, 3], "relu", "squared", True),
    ([6, 65, 1], "tanh", "logistic", False),
    ([70, 5, 1], "softplus", "exponential", True),  # only the input is wide
    ([4, 12, 66], "leaky", "softmax_ce", True),  # only the output is wide
    ([5, 90, 20, 90, 2], "hardtanh", "squared", False),
    ([3, 72, 1], "sigmoid", "squared", True),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 300])  # 300: two blocks of examples (256 + 44)
@pytest.mark.parametrize(("widths", "activation", "loss", "bias"), CASES)
def test_gradient_objective_accuracy_against_numpy(gemm, dtype, n, widths, activation, loss, bias):
    net = MLP(widths, activation=activation, loss=loss, bias=bias, dtype=dtype, reduction="sum" if n == 7 else "mean")
    X, Y = data(widths, loss, n, dtype)
    theta = net.init(2, seed=3)
    F, g = net.loss_and_grad(theta, X, Y)
    for r in range(2):
        F_ref, g_ref = objective_and_grad(widths, activation, bias, loss, net.reduction, theta[r], X, Y)
        close(F[r], F_ref, dtype)
        close(g[r], g_ref, dtype)
    out = net.forward(theta, X).astype(np.float64)
    for r in range(2):
        close(out[r], forward(widths, activation, bias, theta[r], X), dtype)
    right = classified(loss, out, Y)
    np.testing.assert_array_equal(net.accuracy(theta, X, Y), right.mean(axis=1).astype(dtype))


@pytest.mark.parametrize(
    ("widths", "wide"),
    [([10, 65, 1], True), ([80, 8, 1], True), ([4, 8, 65], True), ([10, 64, 64, 1], False), ([64, 40, 2], False)],
)
def test_the_matrix_product_pass_runs_exactly_for_widths_above_64(widths, wide):
    """The portable loop and OpenBLAS round differently (OpenBLAS uses fused multiply-adds), so a network whose
    results depend on which one is registered goes through the matrix products, and one whose results do not
    (bit for bit) keeps its own passes: all widths <= 64 must keep theirs."""
    if _blas.info()["backend"] != "openblas":
        pytest.skip(f"OpenBLAS is not usable here: {_blas.info()['reason']}")
    net = MLP(widths, activation="relu", loss="squared")
    X, Y = data(widths, "squared", 300, seed=4)
    theta = net.init(3, seed=1)
    problem = NetworkProblem(net, X, Y)
    common = dict(order="rr", epochs=2, batch_size=10, step_size=0.01, x0=theta, seed=2)
    results = {}
    for backend in ("openblas", "none"):
        _blas.load(backend)
        try:
            results[backend] = (net.loss_and_grad(theta, X, Y), optcore.run_sgd(problem, **common).x)
        finally:
            _blas.load("auto")
    (Fa, ga), xa = results["openblas"]
    (Fb, gb), xb = results["none"]
    same = np.array_equal(ga, gb) and np.array_equal(Fa, Fb) and np.array_equal(xa, xb)
    assert same != wide
    np.testing.assert_allclose(ga, gb, rtol=1e-12, atol=1e-14)


# --- the engine -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("order", "batch_size"), [("rr", 1), ("rr", 4), ("wr", 3), ("ig", 9)])
def test_training_through_the_engine_matches_numpy_steps(gemm, order, batch_size):
    widths = [3, 70, 5, 1]
    net = MLP(widths, activation="tanh", loss="squared")
    X, Y = data(widths, "squared", 9, seed=1)
    theta0 = net.init(2, seed=1)
    K, eta = 3, 0.05
    res = optcore.run_sgd(
        NetworkProblem(net, X, Y), order=order, epochs=K, step_size=eta, x0=theta0, seed=4, batch_size=batch_size
    )
    idx = optcore.epoch_orders(order, 9, K, seed=4, runs=2)
    final = sgd_steps(widths, theta0, X, Y, idx, eta, batch_size)
    np.testing.assert_allclose(res.x, final, rtol=1e-12, atol=1e-13)
    for r, theta in enumerate(final):
        assert res.objective[r, -1] == pytest.approx(
            objective_and_grad(widths, "tanh", True, "squared", "mean", theta, X, Y)[0], rel=1e-12
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_full_batch_gd_matches_numpy_gradient_descent(gemm, dtype):
    widths = [4, 80, 1]
    net = MLP(widths, activation="relu", loss="squared", dtype=dtype)
    X, Y = data(widths, "squared", 40, dtype)
    theta0 = net.init(3, seed=1)
    res = optcore.run_sgd(
        NetworkProblem(net, X, Y), order="incremental", epochs=10, batch_size=40, step_size=0.05, x0=theta0
    )
    for r in range(3):
        theta = theta0[r].astype(np.float64)
        objectives = []
        for _ in range(10):
            F, g = objective_and_grad(widths, "relu", True, "squared", "mean", theta, X, Y)
            objectives.append(F)
            theta = theta - 0.05 * g
        objectives.append(objective_and_grad(widths, "relu", True, "squared", "mean", theta, X, Y)[0])
        tol = 1e-11 if dtype == np.float64 else 1e-4
        np.testing.assert_allclose(res.x[r], theta, rtol=tol, atol=tol)
        np.testing.assert_allclose(res.objective[r], objectives, rtol=tol)


@pytest.mark.parametrize(
    "setting",
    [
        dict(order="rr", batch_size=5, record=("objective", "accuracy")),
        dict(order="incremental", batch_size=30, record=("objective",)),  # objective from the gradient pass
        dict(order="wr", batch_size=1, record=("objective",)),
    ],
)
def test_bits_do_not_depend_on_threads_or_other_runs(gemm, setting):
    widths = [5, 96, 96, 1]
    net = MLP(widths, activation="relu", loss="squared", dtype=np.float32)
    X, Y = data(widths, "squared", 30, np.float32)
    problem = NetworkProblem(net, X, Y)
    theta0 = net.init(5, seed=2)
    common = dict(epochs=3, step_size=0.01, seed=7, **setting)
    one = optcore.run_sgd(problem, x0=theta0, threads=1, **common)
    two = optcore.run_sgd(problem, x0=theta0, threads=2, **common)
    alone = optcore.run_sgd(problem, x0=theta0[3], run_ids=[3], **common)
    np.testing.assert_array_equal(one.x, two.x)
    np.testing.assert_array_equal(one.objective, two.objective)
    np.testing.assert_array_equal(one.x[3], alone.x[0])
    np.testing.assert_array_equal(one.objective[3], alone.objective[0])


@pytest.mark.skipif(not _core.isa_info()["avx2_used"], reason="this build or CPU has no AVX2 copy of the loops")
def test_avx2_and_portable_copies_give_the_same_bits(gemm, monkeypatch):
    widths = [6, 100, 3]
    net = MLP(widths, activation="softplus", loss="softmax_ce")
    X, Y = data(widths, "softmax_ce", 50)
    results = []
    for isa in ("portable", "avx2"):
        monkeypatch.setenv("OPTCORE_ISA", isa)
        results.append(
            optcore.run_sgd(
                NetworkProblem(net, X, Y),
                order="rr",
                epochs=3,
                batch_size=8,
                step_size=0.1,
                runs=3,
                seed=1,
                x0=net.init(3, seed=0),
                record=("objective", "accuracy"),
            )
        )
    np.testing.assert_array_equal(results[0].x, results[1].x)
    np.testing.assert_array_equal(results[0].objective, results[1].objective)


def test_concurrent_python_threads_get_the_same_results(gemm):
    from concurrent.futures import ThreadPoolExecutor

    widths = [5, 128, 1]
    net = MLP(widths, activation="relu", loss="squared")
    X, Y = data(widths, "squared", 64)
    problem = NetworkProblem(net, X, Y)

    def one(seed):
        return optcore.run_sgd(problem, order="rr", epochs=2, batch_size=16, step_size=0.01, runs=2, seed=seed).x

    expected = [one(s) for s in range(6)]
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(one, range(6)))
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a, b)


# --- full-batch objective records from the gradient pass --------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("widths", "activation", "loss", "n", "order"),
    [
        ([4, 80, 1], "relu", "squared", 20, "incremental"),  # the objective comes from the gradient pass
        ([3, 70, 4], "tanh", "softmax_ce", 300, "incremental"),  # ... over two blocks of examples
        ([4, 80, 1], "softplus", "logistic", 20, "rr"),  # examples out of order: the objective has its own pass
        ([4, 80, 1], "relu", "squared", 20, "flipflop_ig"),  # reversed on odd epochs: own pass there
    ],
)
def test_full_batch_objective_records_keep_their_bits(gemm, dtype, widths, activation, loss, n, order):
    """Recording only the objective lets each epoch-end objective of full-batch GD come from the next step's
    gradient pass; it must equal, bit for bit, the objective computed by a pass of its own (recording the accuracy
    too turns the shortcut off) and MLP.loss_value at the final parameters."""
    net = MLP(widths, activation=activation, loss=loss, dtype=dtype)
    X, Y = data(widths, loss, n, dtype)
    problem = NetworkProblem(net, X, Y)
    theta0 = net.init(3, seed=4)
    common = dict(order=order, epochs=6, batch_size=n, step_size=0.05, x0=theta0, seed=1)
    fused = optcore.run_sgd(problem, record=("objective",), **common)
    own_pass = optcore.run_sgd(problem, record=("objective", "accuracy"), **common)
    np.testing.assert_array_equal(fused.x, own_pass.x)
    np.testing.assert_array_equal(fused.objective, own_pass.objective)
    np.testing.assert_array_equal(fused.objective[:, -1], net.loss_value(fused.x, X, Y))
    middle = optcore.run_sgd(problem, record=("objective",), **{**common, "epochs": 3})
    np.testing.assert_array_equal(fused.objective[:, 3], net.loss_value(middle.x, X, Y))


def test_diverging_run_records_nan_and_leaves_the_others_alone(gemm):
    widths = [3, 80, 1]
    net = MLP(widths, activation="relu", loss="squared")
    X, Y = data(widths, "squared", 12)
    problem = NetworkProblem(net, X, Y)
    theta0 = net.init(3, seed=0)
    common = dict(order="incremental", epochs=30, batch_size=12, x0=theta0, record=("objective",))
    with pytest.warns(RuntimeWarning, match="diverged"):
        res = optcore.run_sgd(problem, step_size=np.array([0.05, 1e4, 0.05]), **common)
    alone = optcore.run_sgd(problem, step_size=0.05, **{**common, "x0": theta0[[0, 2]]})
    assert res.diverged.tolist() == [False, True, False]
    assert np.isnan(res.objective[1, -1])
    np.testing.assert_array_equal(res.x[[0, 2]], alone.x)
    np.testing.assert_array_equal(res.objective[[0, 2]], alone.objective)


def test_masked_wide_network_keeps_its_zeros(gemm):
    widths = [4, 70, 1]
    mask = np.ones((70, 4))
    mask[:, 2:] = 0
    net = MLP(widths, activation="relu", loss="squared", masks=[mask, None])
    X, Y = data(widths, "squared", 12)
    res = optcore.run_sgd(
        NetworkProblem(net, X, Y), order="incremental", epochs=5, batch_size=12, step_size=0.1, x0=net.init(2, seed=3)
    )
    W1 = res.x[:, : 70 * 4].reshape(2, 70, 4)
    assert np.all(W1[:, mask == 0] == 0) and np.all(W1[:, mask == 1] != 0)


def test_bad_input_of_wide_networks_still_raises_clear_errors(gemm):
    net = MLP([3, 100, 1])
    theta = net.init(1, seed=0)[0]
    with pytest.raises(ValueError, match="X must have 3"):
        net.loss_and_grad(theta, np.zeros((4, 5)), np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        net.loss_and_grad(theta, np.full((4, 3), np.nan), np.zeros(4))
    with pytest.raises(ValueError, match="entries"):
        net.loss_and_grad(theta[:-1], np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        optcore.run_sgd(NetworkProblem(net, np.zeros((4, 3)), np.zeros(4)), epochs=1, step_size=0.1, batch_size=5)
