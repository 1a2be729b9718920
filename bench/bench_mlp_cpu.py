"""One training step of one network, optcore against JAX-50 (S steps in one compiled call), in CPU time.

bench_mlp.py times JAX in a subprocess first and optcore afterwards, in wall time; on a machine shared with other
jobs (2 vCPUs, load 4-6) the wall time of a pinned process is inflated by whatever else runs on its CPU, by a
factor that changes from minute to minute, so the two columns of one row can be measured under different loads.
Here both run in one process, round after round, and each call is timed by the CPU time of the process
(time.process_time: the time it actually ran, all its threads) as well as the wall time; the reported ratio is the
median over rounds of JAX's per-step CPU time / optcore's.

Workload: bench_mlp.py's case (a): widths (10, W, W, 1), ReLU, squared loss (mean) over a batch of `batch`
examples (full batch), step 0.01, one run_sgd call of S steps (``order="incremental"``, ``record=("objective",)``,
``threads=1``) against JAX's ``jit(fori_loop(S steps of value_and_grad + update))`` (XLA single-threaded).

    taskset -c 1 python bench/bench_mlp_cpu.py float64:64:1024 float32:16:1024 --rounds 7
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402
from _mlp_baselines import jax_loss, split_layers  # noqa: E402

import optcore  # noqa: E402
from optcore.nn import MLP, NetworkProblem  # noqa: E402


def make(dtype: str, W: int, batch: int):
    """(optcore(S), jax(S)): S full-batch steps of the case, each one call."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch, 10)).astype(dtype)
    Y = rng.standard_normal((batch, 1)).astype(dtype)
    net = MLP([10, W, W, 1], activation="relu", bias=True, loss="squared", reduction="mean", dtype=dtype)
    theta = net.init(1, scheme="he", seed=0)[0]
    prob = NetworkProblem(net, X, Y)

    def run_optcore(S: int) -> None:
        optcore.run_sgd(prob, order="incremental", epochs=S, batch_size=batch, step_size=0.01, x0=theta, runs=1,
                        threads=1, record=("objective",))

    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    p0 = [(jnp.asarray(a), jnp.asarray(b)) for a, b in split_layers((10, W, W, 1), theta)]

    def sgd(p):
        loss, g = jax.value_and_grad(lambda q: jax_loss(jnp, q, Xj, Yj))(p)
        return jax.tree.map(lambda a, ga: a - 0.01 * ga, p, g), loss

    @jax.jit
    def steps(p, count):
        return lax.fori_loop(0, count, lambda _, c: sgd(c[0]), (p, jnp.zeros((), Xj.dtype)))

    def run_jax(S: int) -> None:
        jax.block_until_ready(steps(p0, S))

    return run_optcore, run_jax


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cells", nargs="+", help="dtype:W:batch, e.g. float64:64:1024")
    p.add_argument("--rounds", type=int, default=7, help="alternating rounds (median)")
    p.add_argument("--seconds", type=float, default=0.3, help="CPU seconds per timed call (sets S)")
    args = p.parse_args()
    print(f"optcore {optcore.__file__}; load average {os.getloadavg()}")
    print("| dtype | W | batch | S | optcore CPU us/step | JAX-50 CPU us/step | x JAX-50 (CPU; min-max) | "
          "wall us/step optcore / JAX |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for cell in args.cells:
        dtype, W, batch = cell.split(":")
        run_optcore, run_jax = make(dtype, int(W), int(batch))
        run_optcore(1)
        run_jax(2)  # compiles
        t0 = time.process_time()
        run_optcore(3)
        S = max(2, int(args.seconds / ((time.process_time() - t0) / 3)))
        cpu = {"optcore": [], "jax": []}
        wall = {"optcore": [], "jax": []}
        for _ in range(args.rounds):
            for name, f in (("optcore", run_optcore), ("jax", run_jax)):
                w0, c0 = time.perf_counter(), time.process_time()
                f(S)
                cpu[name].append((time.process_time() - c0) / S)
                wall[name].append((time.perf_counter() - w0) / S)
        ratios = [j / o for o, j in zip(cpu["optcore"], cpu["jax"], strict=True)]
        us = {k: float(np.median(v)) * 1e6 for k, v in cpu.items()}
        wus = {k: float(np.median(v)) * 1e6 for k, v in wall.items()}
        spread = f"{np.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        print(f"| {dtype} | {W} | {batch} | {S} | {us['optcore']:.1f} | {us['jax']:.1f} | {spread} | "
              f"{wus['optcore']:.0f} / {wus['jax']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
