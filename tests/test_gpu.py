"""The CUDA backend against the CPU core: index streams, engine iterates, network passes.

Each test runs on two devices:

* ``cuda``: CuPy on a real GPU (marked ``gpu``; skipped with the reason where :func:`optcore.gpu_available` is
  False);
* ``emulated``: the same kernel sources compiled for the host and run thread by thread through a stand-in CuPy
  (tests/cuda_emulator.py), which checks the kernels' logic and the wrappers on any machine with a C++ compiler.

Tolerances. Index streams: bitwise on both. Iterates and network passes of problems without transcendental
functions (least squares, quadratic, lower bound; ReLU/linear/hard-tanh networks with squared loss): bitwise in
float64 and float32 -- the kernels run the CPU's operations in the CPU's order with fused multiply-adds off.
Logistic/exponential problems and networks with tanh/sigmoid/softplus or the logistic/softmax losses: CUDA's exp,
log1p and tanh are not glibc's (up to 1-2 ulp apart), so there the GPU agrees to a relative 1e-12 in float64 and
1e-4 in float32 (gradient sums compound the per-element differences; the tests check this bound). The network
gradient on the CPU sums examples 8 at a time in vector lanes, the GPU one after another: 1e-12 / 1e-4 relative.
"""

import sys

import numpy as np
import pytest
from conftest import PROBLEM_KINDS, make_problem
from cuda_emulator import CXX, make_fake_cupy

import optcore
from optcore import _backend
from optcore.nn import MLP

EXACT = ("least_squares", "quadratic", "lower_bound")
TRANSCENDENTAL_RTOL = {np.float64: 1e-12, np.float32: 1e-4}


@pytest.fixture(
    params=[
        pytest.param("cuda", marks=pytest.mark.gpu),
        pytest.param("emulated", marks=pytest.mark.skipif(CXX is None, reason="no host C++ compiler for the emulator")),
    ]
)
def device(request, monkeypatch):
    """``xp`` for the device side: the real cupy module on a GPU, or the host emulation."""
    if request.param == "cuda":
        if not optcore.gpu_available():
            pytest.skip(f"no usable GPU: {optcore.gpu_unavailable_reason()}")
        import cupy

        return cupy
    fake = make_fake_cupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(_backend, "gpu_status", lambda: _backend.GPUStatus(True, "", 1))
    from optcore.cuda import _compile

    monkeypatch.setattr(_compile, "_modules", {})
    monkeypatch.setattr(_compile, "LOAD_PTX", False)  # the emulator compiles the source; it cannot load PTX
    return fake


def host(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


# --- index streams ---------------------------------------------------------------------------------------------------
ORDER_CASES = [
    ("with_replacement", {}),
    ("random_reshuffling", {}),
    ("single_shuffle", {}),
    ("incremental", {"base_order": [3, 1, 0, 5, 4, 2]}),
    ("flipflop_rr", {}),
    ("flipflop_ss", {}),
    ("flipflop_ig", {}),
    ("syncshuf", {"workers": 3}),
    ("explicit", {"orders": np.random.default_rng(1).integers(0, 6, size=(2, 3, 6))}),
]


@pytest.mark.parametrize(("order", "extra"), ORDER_CASES, ids=[c[0] for c in ORDER_CASES])
def test_index_streams_are_bitwise_identical(device, order, extra):
    workers = extra.get("workers", 1)
    n = 6 * workers if order == "syncshuf" else 6
    kwargs = {k: v for k, v in extra.items() if k != "workers"}
    args = dict(seed=[7, 2**40 + 3], runs=2, run_ids=[0, 123456], workers=workers, **kwargs)
    cpu = optcore.epoch_orders(order, n, 3, backend="cpu", **args)
    gpu = optcore.epoch_orders(order, n, 3, backend="cuda", **args)
    assert isinstance(gpu, device.ndarray)
    np.testing.assert_array_equal(host(gpu), cpu)


@pytest.mark.parametrize(("order", "extra"), ORDER_CASES, ids=[c[0] for c in ORDER_CASES])
def test_epoch_windows_are_slices_of_the_full_stream(device, order, extra):
    workers = extra.get("workers", 1)
    n = 6 * workers if order == "syncshuf" else 6
    kwargs = {k: v for k, v in extra.items() if k != "workers"}
    if order == "explicit":  # the user's orders of epochs 1 and 2 (a window of them is given, not shifted)
        full_orders, window = np.random.default_rng(1).integers(0, 6, size=(2, 3, 6)), {}
        kwargs = {"orders": full_orders[:, 1:3]}
        window = {"orders": full_orders}
    else:
        window = kwargs
    args = dict(seed=[7, 2**40 + 3], runs=2, run_ids=[0, 123456], workers=workers)
    full = optcore.epoch_orders(order, n, 3, backend="cpu", **args, **window)
    gpu = optcore.epoch_orders(order, n, 2, first_epoch=1, backend="cuda", **args, **kwargs)
    np.testing.assert_array_equal(host(gpu), full[:, 1:3])


def test_index_streams_of_large_n_and_dropped_remainder(device):
    cpu = optcore.epoch_orders("rr", 1000, 2, seed=5, runs=3, count=997, backend="cpu")
    np.testing.assert_array_equal(host(optcore.epoch_orders("rr", 1000, 2, seed=5, runs=3, count=997,
                                                            backend="cuda")), cpu)


def test_orders_follow_device_inputs(device):
    base = device.asarray(np.array([2, 0, 1], dtype=np.int64))
    out = optcore.epoch_orders("incremental", 3, 2, base_order=base)
    assert isinstance(out, device.ndarray)
    np.testing.assert_array_equal(host(out), np.tile([2, 0, 1], (1, 2, 1, 1)))


# --- the engine ----------------------------------------------------------------------------------------------------
ENGINE_CASES = [
    dict(order="rr"),
    dict(order="wr", batch_size=4, remainder="partial"),
    dict(order="ss", batch_size=5, remainder="drop", record_every=3),
    dict(order="flipflop_rr", workers=2, batch_size=2),
    dict(order="rr", workers=3, mode="local", batch_size=2, sync_every=1, record_every=2),
    dict(order="syncshuf", workers=3, mode="local"),
    dict(order="incremental", record_iterates=True),
]


def _compare(cpu, gpu, dtype, exact):
    for name in ("x", "gap", "dist", "objective", "iterates"):
        a, b = getattr(cpu, name), getattr(gpu, name)
        if a is None:
            assert b is None
            continue
        b = host(b)
        if exact:
            np.testing.assert_array_equal(b, a, err_msg=name)
        else:
            np.testing.assert_allclose(b, a, rtol=TRANSCENDENTAL_RTOL[dtype], atol=0, err_msg=name)
    np.testing.assert_array_equal(host(gpu.diverged), cpu.diverged)


@pytest.mark.parametrize("kind", PROBLEM_KINDS)
@pytest.mark.parametrize("case", ENGINE_CASES, ids=[c["order"] + str(i) for i, c in enumerate(ENGINE_CASES)])
def test_engine_iterates_agree(device, kind, case, dtype):
    problem = make_problem(kind, dtype, n=18, d=3, workers=case.get("workers", 1))
    d = problem.dim
    R = 5
    x0 = (0.3 * np.random.default_rng(3).standard_normal((R, d))).astype(dtype)
    step = np.linspace(0.01, 0.05, R)
    cpu = optcore.run_sgd(problem, epochs=4, step_size=step, x0=x0, seed=11, threads=1, **case)
    gpu = optcore.run_sgd(problem, epochs=4, step_size=device.asarray(step), x0=device.asarray(x0), seed=11, **case)
    assert isinstance(gpu.x, device.ndarray) and gpu.meta["backend"] == "cuda"
    _compare(cpu, gpu, dtype, exact=kind in EXACT)
    if kind in EXACT:
        assert gpu.to_pandas().equals(cpu.to_pandas())


def test_engine_decay_schedule_and_divergence(device):
    problem = make_problem("least_squares", np.float64)
    sched = optcore.schedules.inverse_time(0.05, decay=0.3)
    cpu = optcore.run_sgd(problem, epochs=3, step_size=sched, runs=3, seed=1, threads=1)
    gpu = optcore.run_sgd(problem, epochs=3, step_size=sched, runs=3, seed=1, backend="cuda")
    _compare(cpu, gpu, np.float64, exact=True)
    with pytest.warns(optcore.DivergenceWarning):
        big = optcore.run_sgd(problem, epochs=10, step_size=[0.05, 1e6], seed=1, threads=1)
    with pytest.warns(optcore.DivergenceWarning):
        big_gpu = optcore.run_sgd(problem, epochs=10, step_size=[0.05, 1e6], seed=1, backend="cuda")
    assert big.diverged.tolist() == [False, True]
    np.testing.assert_array_equal(host(big_gpu.diverged), big.diverged)
    np.testing.assert_array_equal(host(big_gpu.gap), big.gap)


def test_engine_run_alone_equals_run_in_batch(device, monkeypatch):
    from optcore.cuda import orders as cuda_orders
    from optcore.cuda import sgd as cuda_sgd

    monkeypatch.setattr(cuda_sgd, "SCRATCH_BYTES", 4000)  # several launches of a few runs each
    monkeypatch.setattr(cuda_orders, "SCRATCH_BYTES", 700)
    np.testing.assert_array_equal(
        host(optcore.epoch_orders("rr", 12, 3, runs=7, seed=2, backend="cuda")),
        optcore.epoch_orders("rr", 12, 3, runs=7, seed=2, backend="cpu"),
    )
    problem = make_problem("least_squares", np.float64)
    batch = optcore.run_sgd(problem, epochs=3, step_size=0.05, runs=300, seed=9, backend="cuda")
    alone = optcore.run_sgd(problem, epochs=3, step_size=0.05, runs=1, run_ids=[257], seed=9, backend="cuda")
    np.testing.assert_array_equal(host(alone.x)[0], host(batch.x)[257])
    cpu = optcore.run_sgd(problem, epochs=3, step_size=0.05, runs=300, seed=9, threads=1)
    np.testing.assert_array_equal(host(batch.x), cpu.x)
    np.testing.assert_array_equal(host(batch.gap), cpu.gap)


def test_engine_rejects_networks(device):
    mlp = MLP([2, 2, 1])
    problem = optcore.NetworkProblem(mlp, np.ones((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="networks train on the CPU engine"):
        optcore.run_sgd(problem, epochs=1, step_size=0.1, backend="cuda")


# --- networks ------------------------------------------------------------------------------------------------------
NET_CASES = [
    dict(widths=[3, 5, 2], activation="relu", loss="squared", exact=True),
    dict(widths=[3, 4, 4, 1], activation="hardtanh", loss="squared", bias=False, exact=True),
    dict(widths=[3, 6, 1], activation="leaky", loss="squared", exact=True),
    dict(widths=[3, 6, 2], activation="leaky", slopes=(-0.5, -2.0), loss="squared", exact=True),  # negative slopes
    dict(widths=[3, 4, 1], activation="tanh", loss="logistic", exact=False),
    dict(widths=[3, 5, 3], activation="softplus", loss="softmax_ce", reduction="sum", exact=False),
    dict(widths=[3, 4, 1], activation="sigmoid", loss="exponential", exact=False),
]


def _net_data(mlp, n, rng):
    X = rng.standard_normal((n, mlp.widths[0]))
    k = int(mlp.widths[-1])
    if mlp.loss == "squared":
        return X, rng.standard_normal((n, k))
    if mlp.loss == "softmax_ce":
        return X, rng.integers(0, k, n).astype(float)
    return X, rng.choice([-1.0, 1.0], n)


@pytest.mark.parametrize(
    "case", NET_CASES, ids=[f"{c['activation']}{c.get('slopes', '')}-{c['loss']}" for c in NET_CASES]
)
def test_network_passes_agree(device, case, dtype):
    case = dict(case)
    exact = case.pop("exact")
    mlp = MLP(dtype=dtype, **case)
    rng = np.random.default_rng(4)
    R, n = 4, 10
    params = mlp.init(R, seed=2)
    X, Y = _net_data(mlp, n, rng)
    v = rng.standard_normal((R, mlp.n_params)).astype(dtype)
    dP, dX, dY, dv = (device.asarray(np.asarray(a, dtype=dtype)) for a in (params, X, Y, v))
    rtol = TRANSCENDENTAL_RTOL[dtype]

    def check(gpu, cpu, bitwise):
        assert isinstance(gpu, device.ndarray)
        if bitwise:
            np.testing.assert_array_equal(host(gpu), cpu)
        else:
            np.testing.assert_allclose(host(gpu), cpu, rtol=rtol, atol=rtol * np.abs(cpu).max())

    check(mlp.forward(dP, dX), mlp.forward(params, X), exact)
    check(mlp.per_example_grads(dP, dX, dY), mlp.per_example_grads(params, X, Y), exact)
    check(mlp.hvp(dP, dX, dY, dv), mlp.hvp(params, X, Y, v), exact)
    check(mlp.accuracy(dP, dX, dY), mlp.accuracy(params, X, Y), True)
    loss_g, grad_g = mlp.loss_and_grad(dP, dX, dY)
    loss_c, grad_c = mlp.loss_and_grad(params, X, Y)
    check(loss_g, loss_c, False)  # the CPU may sum the loss in lanes of 8 examples
    check(grad_g, grad_c, False)  # ... and the gradient: another order of the same sum
    check(mlp.hessian(dP[:2], dX, dY), mlp.hessian(params[:2], X, Y), exact)


def test_network_single_parameter_vector(device):
    mlp = MLP([2, 3, 1])
    p = mlp.init(1)[0]
    X = np.random.default_rng(0).standard_normal((5, 2))
    out = mlp.forward(device.asarray(p), device.asarray(X))
    assert out.shape == (5, 1)
    np.testing.assert_array_equal(host(out), mlp.forward(p, X))
