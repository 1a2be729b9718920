"""bench/bench_gpu.py without a GPU: it exits with the reason, and its optcore workloads run on the host emulation
of the CUDA backend (tests/cuda_emulator.py) with the same results as the CPU core."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cuda_emulator import CXX, make_fake_cupy

import optcore
from optcore import _backend

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "bench_gpu.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exits_with_the_reason_without_a_gpu():
    if optcore.gpu_available():
        pytest.skip("this machine has a GPU")
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert out.returncode == 2
    assert "needs a CUDA GPU and CuPy: " in out.stderr  # then the reason, as the subprocess detected it
    assert "No GPU numbers were measured." in out.stderr


@pytest.mark.skipif(CXX is None, reason="no host C++ compiler for the emulator")
def test_optcore_workloads_on_the_emulator(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", make_fake_cupy())
    monkeypatch.setattr(_backend, "gpu_status", lambda: _backend.GPUStatus(True, "", 1))
    from optcore.cuda import _compile

    monkeypatch.setattr(_compile, "_modules", {})
    monkeypatch.setattr(_compile, "LOAD_PTX", False)
    bench = load_bench()
    problem = bench.sgd_problem(np.float64, n=10, d=3)
    run, sync, final_gap = bench.sgd_optcore(problem, runs=6, epochs=2, step=0.05)
    out = run()
    sync()
    cpu = optcore.run_sgd(problem, order="rr", epochs=2, step_size=0.05, runs=6, seed=1, record=("gap",))
    assert final_gap(out) == float(cpu.gap[:, -1].mean())

    mlp, X, Y, params, V = bench.nets_case(np.float64, runs=3, n=5, widths=(2, 3, 1))
    fn, sync = bench.nets_optcore(mlp, X, Y, params, V, "hvp")
    np.testing.assert_array_equal(fn().get(), mlp.hvp(params, X, Y, V))
    fn, sync = bench.nets_optcore(mlp, X, Y, params, V, "grad")
    loss, grad = fn()
    np.testing.assert_allclose(grad.get(), mlp.loss_and_grad(params, X, Y)[1], rtol=1e-12, atol=1e-14)
