"""Backend choice without a GPU: detection with a reason, following the inputs, mixing, explicit backends.

A stand-in ``cupy`` module (a class named ``ndarray`` and nothing else) lets the selection logic be tested on any
machine: the logic only asks whether an argument is a ``cupy.ndarray``.
"""

import sys
import types

import numpy as np
import pytest

import optcore
from optcore import _backend
from optcore.nn import MLP


class FakeDeviceArray:
    """Stands for a cupy.ndarray in the selection logic (never computed with)."""

    shape = (3,)
    ndim = 1


@pytest.fixture
def fake_cupy(monkeypatch):
    """A stand-in cupy module in sys.modules, and a GPU status that says no device (whatever this machine has)."""
    fake = types.ModuleType("cupy")
    fake.ndarray = FakeDeviceArray
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(_backend, "gpu_status", lambda: _backend.GPUStatus(False, "no device in this test"))
    return fake


@pytest.fixture
def fresh_status():
    """Clear the cached detection before and after a test that changes what detection sees."""
    _backend.gpu_status.cache_clear()
    yield
    _backend.gpu_status.cache_clear()


def small_problem():
    rng = np.random.default_rng(0)
    return optcore.LeastSquares(rng.standard_normal((6, 3)), rng.standard_normal(6))


def test_gpu_status_is_consistent():
    status = optcore.gpu_status()
    assert optcore.gpu_available() == status.available == bool(status)
    if status.available:
        assert optcore.gpu_unavailable_reason() == "" and status.devices >= 1
    else:
        assert len(optcore.gpu_unavailable_reason()) > 10
        assert status.devices == 0 or "NVRTC" in status.reason


def test_no_cupy_gives_a_reason(monkeypatch, fresh_status):
    monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` raises ImportError
    assert optcore.gpu_available() is False
    reason = optcore.gpu_unavailable_reason()
    assert "CuPy is not installed" in reason and "optcore[cuda12]" in reason


def test_no_driver_gives_a_reason(monkeypatch, fresh_status):
    fake = types.ModuleType("cupy")

    def no_driver():
        raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")

    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_driver))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    assert optcore.gpu_available() is False
    assert "no usable CUDA driver" in optcore.gpu_unavailable_reason()
    assert "InsufficientDriver" in optcore.gpu_unavailable_reason()


def test_no_device_gives_a_reason(monkeypatch, fresh_status):
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 0))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    assert optcore.gpu_available() is False
    assert optcore.gpu_unavailable_reason() == "the CUDA driver reports no device"


def test_numpy_inputs_choose_cpu():
    assert _backend.choose_backend(None, {"x0": np.zeros(3), "orders": None, "seed": 3}) == "cpu"
    assert _backend.choose_backend("cpu", {"x0": np.zeros(3)}) == "cpu"


def test_device_inputs_follow_to_cuda_and_need_a_gpu(fake_cupy):
    with pytest.raises(RuntimeError, match="backend='cuda' needs a usable GPU, but no device in this test"):
        _backend.choose_backend(None, {"x0": FakeDeviceArray()})


def test_mixing_raises_type_error(fake_cupy):
    with pytest.raises(TypeError, match=r"x0 are CuPy \(GPU\) arrays but orders are NumPy"):
        _backend.choose_backend(None, {"x0": FakeDeviceArray(), "orders": np.zeros(3, dtype=int)})


def test_cpu_backend_with_device_inputs_raises(fake_cupy):
    with pytest.raises(TypeError, match="backend='cpu' was asked for but x0"):
        _backend.choose_backend("cpu", {"x0": FakeDeviceArray()})


@pytest.mark.parametrize("bad", ["gpu", "CUDA", ""])
def test_unknown_backend_name(bad):
    with pytest.raises(ValueError, match="backend must be None, 'cpu' or 'cuda'"):
        _backend.choose_backend(bad, {})


def test_backend_must_be_a_string():
    with pytest.raises(TypeError, match="backend must be None, 'cpu' or 'cuda'"):
        _backend.choose_backend(1, {})


def test_run_sgd_mixing_raises(fake_cupy):
    with pytest.raises(TypeError, match="different devices"):
        optcore.run_sgd(small_problem(), epochs=1, step_size=0.1, x0=FakeDeviceArray(), base_order=np.arange(6),
                        order="incremental")


def test_run_sgd_explicit_cuda_without_gpu_says_why(fake_cupy):
    with pytest.raises(RuntimeError, match="needs a usable GPU, but no device in this test"):
        optcore.run_sgd(small_problem(), epochs=1, step_size=0.1, backend="cuda")


def test_run_sgd_explicit_cuda_without_gpu_says_why_here():
    if optcore.gpu_available():
        pytest.skip("this machine has a GPU; the no-GPU message cannot be seen here")
    with pytest.raises(RuntimeError, match="needs a usable GPU, but") as info:
        optcore.run_sgd(small_problem(), epochs=1, step_size=0.1, backend="cuda")
    assert optcore.gpu_unavailable_reason() in str(info.value)


def test_run_sgd_backend_is_validated():
    with pytest.raises(ValueError, match="backend must be"):
        optcore.run_sgd(small_problem(), epochs=1, step_size=0.1, backend="tpu")


def test_run_sgd_cpu_records_backend():
    assert optcore.run_sgd(small_problem(), epochs=1, step_size=0.1, backend="cpu").meta["backend"] == "cpu"


def test_epoch_orders_backends(fake_cupy):
    with pytest.raises(RuntimeError, match="needs a usable GPU"):
        optcore.epoch_orders("rr", 5, 2, backend="cuda")
    with pytest.raises(TypeError, match="different devices"):
        optcore.epoch_orders("incremental", 3, 2, base_order=FakeDeviceArray(), seed=np.array([1], dtype=np.uint64))
    cpu = optcore.epoch_orders("rr", 5, 2, backend="cpu")
    np.testing.assert_array_equal(cpu, optcore.epoch_orders("rr", 5, 2, backend="numpy"))
    np.testing.assert_array_equal(cpu, optcore.epoch_orders("rr", 5, 2))


def test_nn_mixing_and_explicit_cuda(fake_cupy):
    mlp = MLP([2, 3, 1])
    params = mlp.init(1)[0]
    X = np.ones((4, 2))
    with pytest.raises(TypeError, match="params are CuPy"):
        mlp.forward(FakeDeviceArray(), X)
    with pytest.raises(RuntimeError, match="needs a usable GPU"):
        mlp.loss_value(params, X, np.zeros(4), backend="cuda")
    with pytest.raises(TypeError, match="backend='cpu' was asked for but X, params"):
        mlp.forward(FakeDeviceArray(), FakeDeviceArray(), backend="cpu")
    np.testing.assert_array_equal(mlp.forward(params, X, backend="cpu"), mlp.forward(params, X))


def test_default_suite_needs_no_cupy():
    """Importing optcore and its CUDA package never imports CuPy: only _backend does, on demand."""
    import subprocess

    code = (
        "import sys; sys.modules['cupy'] = None\n"
        "import optcore, optcore.cuda, optcore.cuda.sgd, optcore.cuda.nn, optcore.cuda.orders\n"
        "import numpy as np\n"
        "assert not optcore.gpu_available(), optcore.gpu_unavailable_reason()\n"
        "print(optcore.gpu_unavailable_reason())\n"
        "r = optcore.run_sgd(optcore.LeastSquares(np.eye(3), np.ones(3)), epochs=2, step_size=0.1)\n"
        "assert r.meta['backend'] == 'cpu'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "CuPy is not installed" in out.stdout
