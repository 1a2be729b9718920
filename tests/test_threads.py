"""Thread counts: one default for every entry point (the CPUs this process may use, OPTCORE_NUM_THREADS, or
optcore.set_default_threads), a clear error beyond optcore._threads.MAX_THREADS, and a Python exception -- never
an abort of the interpreter -- when the threads cannot be started.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import optcore
from optcore import _threads
from optcore.implicit_bias import Diagonal, run_gd
from optcore.nn import MLP

needs_affinity = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity API")


@pytest.fixture
def problem():
    return optcore.LeastSquares.random(n=12, dim=3, seed=0)


@pytest.fixture(autouse=True)
def _clean_default(monkeypatch):
    monkeypatch.delenv(_threads.ENV_VAR, raising=False)
    previous = optcore.set_default_threads(None)
    yield
    optcore.set_default_threads(previous)


@needs_affinity
def test_default_follows_the_affinity_mask(problem):
    mask = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(mask)})  # as under taskset -c 0
        assert optcore.default_threads() == 1
        assert optcore.run_sgd(problem, epochs=1, step_size=0.01, runs=4).meta["threads"] == 1
    finally:
        os.sched_setaffinity(0, mask)
    assert optcore.default_threads() == min(len(mask), _threads.MAX_THREADS)


def test_environment_variable_and_setter(problem, monkeypatch):
    monkeypatch.setenv(_threads.ENV_VAR, "3")
    assert optcore.default_threads() == 3
    assert optcore.run_sgd(problem, epochs=1, step_size=0.01, runs=4).meta["threads"] == 3
    assert optcore.set_default_threads(2) is None
    assert optcore.default_threads() == 2  # the setter wins over the environment
    assert optcore.set_default_threads(None) == 2
    monkeypatch.setenv(_threads.ENV_VAR, "many")
    with pytest.raises(ValueError, match="OPTCORE_NUM_THREADS must be a positive integer, got 'many'"):
        optcore.default_threads()
    monkeypatch.setenv(_threads.ENV_VAR, "0")
    with pytest.raises(ValueError, match="OPTCORE_NUM_THREADS must be >= 1"):
        optcore.default_threads()


def test_every_entry_point_uses_the_one_default(problem, monkeypatch):
    calls = []
    real = _threads.default_threads
    monkeypatch.setattr(_threads, "default_threads", lambda: calls.append(1) or real())
    optcore.run_sgd(problem, epochs=1, step_size=0.01)
    MLP([2, 3, 1]).loss_value(MLP([2, 3, 1]).init(seed=0)[0], np.ones((4, 2)), np.ones(4))
    run_gd(Diagonal(2, 2), np.eye(2), [1.0, -1.0], loss="exponential", steps=2, step_size=0.1, alpha=1.0)
    assert len(calls) == 3


@pytest.mark.parametrize("bad", [2**31, 1025, 10**20])
def test_too_many_threads_is_a_clear_error(problem, bad):
    with pytest.raises(ValueError, match=r"threads must be <= 1024, got .*at most 1024"):
        optcore.run_sgd(problem, epochs=1, step_size=0.01, threads=bad)
    mlp = MLP([2, 1])
    with pytest.raises(ValueError, match="threads must be <= 1024"):
        mlp.loss_value(mlp.init(seed=0)[0], np.ones((3, 2)), np.ones(3), threads=bad)
    with pytest.raises(ValueError, match="threads must be <= 1024"):
        optcore.set_default_threads(bad)


@pytest.mark.parametrize("bad", [0, -3])
def test_threads_must_be_positive(problem, bad):
    with pytest.raises(ValueError, match="threads must be >= 1"):
        optcore.run_sgd(problem, epochs=1, step_size=0.01, threads=bad)
    with pytest.raises(TypeError, match="threads must be an integer"):
        optcore.run_sgd(problem, epochs=1, step_size=0.01, threads=2.0)


def test_mlp_methods_take_threads():
    mlp = MLP([3, 5, 2], activation="tanh")
    params = mlp.init(runs=6, seed=1)
    X, Y = np.random.default_rng(0).standard_normal((7, 3)), np.random.default_rng(1).standard_normal((7, 2))
    v = np.ones(mlp.n_params)
    for name, args in [("forward", (X,)), ("loss_value", (X, Y)), ("loss_and_grad", (X, Y)),
                       ("per_example_grads", (X, Y)), ("hvp", (X, Y, v)), ("hessian", (X, Y))]:
        one = getattr(mlp, name)(params, *args, threads=1)
        three = getattr(mlp, name)(params, *args, threads=3)
        for a, b in zip(np.atleast_1d(one) if name != "loss_and_grad" else one,
                        np.atleast_1d(three) if name != "loss_and_grad" else three, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)


FAILED_START = textwrap.dedent("""
    import resource, sys
    import numpy as np
    import optcore
    from optcore.implicit_bias import Diagonal, run_gd

    def vm_bytes():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize"))

    # room for the call's arrays, not for 1000 thread stacks of 8 MiB
    limit = vm_bytes() + (256 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    problem = optcore.LeastSquares.random(n=20, dim=3, seed=0)
    for call in (lambda: optcore.run_sgd(problem, epochs=2, step_size=0.01, runs=1000, threads=1000, record=()),
                 lambda: run_gd(Diagonal(2, 2), np.eye(2), [1.0, -1.0], loss="exponential", steps=2,
                                step_size=0.1, alpha=np.ones(1000), threads=1000)):
        try:
            call()
        except RuntimeError as exc:
            assert "could not start thread" in str(exc) and "fewer threads" in str(exc), exc
            print("raised", flush=True)
        else:
            print("ran", flush=True)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and thread stacks as on Linux")
def test_thread_start_failure_is_an_exception_not_an_abort():
    out = subprocess.run([sys.executable, "-c", FAILED_START], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert "terminate called" not in out.stderr
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["raised", "raised"], out.stdout
