"""Ctrl-C during a long call into the C++ core ends it promptly with KeyboardInterrupt, leaving no thread behind.

Each case runs in a subprocess that starts a call lasting far longer than the test, gets SIGINT after half a
second, and reports how long the call ran, when the exception came, and its thread count before and after
(/proc/self/task).
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")

SETUP = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    import optcore
    from optcore.nn import MLP, NetworkProblem

    def tasks():
        return len(os.listdir("/proc/self/task"))
""")

CALLS = {
    # the plain SGD path (lane kernels), two threads
    "engine_plain": """
problem = optcore.LeastSquares.random(n=2000, dim=8, seed=0)
call = lambda: optcore.run_sgd(problem, epochs=10**6, step_size=1e-3, runs=64, threads=2, record=())
""",
    # full-batch network training: the batched path, one thread
    "engine_network": """
mlp = MLP([4, 32, 1], activation="tanh")
rng = np.random.default_rng(0)
problem = NetworkProblem(mlp, rng.standard_normal((4000, 4)), rng.standard_normal(4000))
call = lambda: optcore.run_sgd(problem, epochs=10**6, batch_size=4000, step_size=1e-3, runs=2, threads=1,
                               record=())
""",
    "mlp_hessian": """
mlp = MLP([8, 40, 40, 1], activation="tanh")
rng = np.random.default_rng(0)
X, Y = rng.standard_normal((20000, 8)), rng.standard_normal(20000)
call = lambda: mlp.hessian(mlp.init(runs=2, seed=0), X, Y, threads=2)
""",
    "games": """
from optcore import games
A = games.random_games(10, seeds=range(8))
call = lambda: games.run_game(A, "omwu", steps=10**10, step_size=0.05, record_every=10**9, threads=2)
""",
    "linear_tensor_gd": """
from optcore.implicit_bias import Diagonal, run_gd
X = np.random.default_rng(0).standard_normal((200, 20))
call = lambda: run_gd(Diagonal(3, 20), X, np.sign(X[:, 0]) + (X[:, 0] == 0), loss="logistic",
                      steps=10**9, step_size=1e-3, alpha=np.ones(4), record_at=np.array([0]), threads=2)
""",
    # Bures-Wasserstein generators: the step loop of generator_gd, two threads
    "generator_gd": """
from optcore.implicit_bias import bures_wasserstein as bw
gen = bw.LinearGenerator((20, 20, 20, 20))
target = bw.Target.zipf(20, seed=0)
call = lambda: bw.run_generator_gd(gen, target, bw.init_balanced(gen, runs=4), steps=10**9, step_size=1e-4,
                                   tau=0.1, record_at=np.array([0]), threads=2)
""",
}

RUN = textwrap.dedent("""
    before = tasks()
    print("ready", flush=True)
    start = time.monotonic()
    try:
        call()
    except KeyboardInterrupt:
        print("interrupted", time.monotonic() - start, time.monotonic(), before, tasks(), flush=True)
        sys.exit(0)
    print("finished", time.monotonic() - start, flush=True)
""")


@pytest.mark.parametrize("case", sorted(CALLS))
def test_ctrl_c_stops_a_long_call(case):
    script = SETUP + textwrap.dedent(CALLS[case]) + RUN
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        waited = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    words = out.split()
    assert proc.returncode == 0 and words and words[0] == "interrupted", (out, err)
    ran, caught, before, after = float(words[1]), float(words[2]), int(words[3]), int(words[4])
    assert ran > 0.3  # the signal came during the C++ call, not before it
    # CLOCK_MONOTONIC is one clock for both processes: the time from the signal to the exception in the child
    assert caught - sent < 1.0, f"the call took {caught - sent:.2f} s to stop"
    assert waited < 30
    assert after == before, f"{after - before} threads left running"
