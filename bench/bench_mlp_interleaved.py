"""One training step of one network, optcore against PyTorch eager and a JAX jit step, timed in alternation.

bench_mlp.py times each implementation in turn (JAX in a subprocess first, then optcore and PyTorch), so on a shared
machine whose load changes by the minute its ratios can drift by 2x between runs. This script times the three in
one process, round after round, in a rotating order, and reports the median over rounds of each per-step time and
of the per-round ratio optcore / fastest baseline: load that changes between rounds cancels out of the ratios.

Workload: bench_mlp.py's case (a): widths (10, W, W, 1), ReLU, squared loss (mean) over a fixed batch, step 0.01,
the same data and He initialization; optcore runs S steps per run_sgd call (``order="incremental"``,
``batch_size=batch``, ``record=("objective",)``, ``threads=1``), PyTorch one eager step per iteration
(``torch.set_num_threads(1)``), JAX one jitted value_and_grad + update call per step (XLA single-threaded, set
before jax is imported). Every implementation records each step's loss.

Run by hand::

    python bench/bench_mlp_interleaved.py --widths 256 --batches 1024 --dtypes float32 float64 --rounds 15
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from statistics import median

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

from _mlp_baselines import SingleCase, TorchSingle, jax_loss, split_layers  # noqa: E402
from bench_mlp import D_IN, make_data, optcore_trainer  # noqa: E402

import optcore  # noqa: E402
from optcore.nn import MLP  # noqa: E402


def optcore_block(case: SingleCase):
    call = optcore_trainer(case)

    def block(count: int) -> None:
        call(count)

    return block


def jax_block(case: SingleCase):
    import jax
    import jax.numpy as jnp

    X, Y = jnp.asarray(case.X), jnp.asarray(case.Y)
    p0 = [(jnp.asarray(W), jnp.asarray(b)) for W, b in split_layers(case.widths, case.theta)]

    @jax.jit
    def step(p):
        loss, g = jax.value_and_grad(lambda q: jax_loss(jnp, q, X, Y))(p)
        return jax.tree.map(lambda a, ga: a - case.step * ga, p, g), loss

    def block(count: int) -> None:
        p, losses = p0, []
        for _ in range(count):
            p, loss = step(p)
            losses.append(loss)
        jax.block_until_ready((p, losses))

    return block


def gemm_backend() -> str:
    """Which gemm optcore's wide-layer pass uses ('none' for builds without that pass)."""
    blas = getattr(optcore, "_blas", None)
    return blas.info()["backend"] if blas else "none"


def steps_for(block, min_time: float) -> int:
    """Steps per timed block: about min_time seconds."""
    block(2)  # warm-up (and JAX's compilation)
    count = 1
    while True:
        start = time.perf_counter()
        block(count)
        if time.perf_counter() - start >= min_time or count >= 1 << 20:
            return count
        count *= 2


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--widths", type=int, nargs="+", default=[256])
    p.add_argument("--batches", type=int, nargs="+", default=[1024])
    p.add_argument("--dtypes", nargs="+", choices=("float32", "float64"), default=["float32", "float64"])
    p.add_argument("--rounds", type=int, default=15, help="timed rounds per case (default 15)")
    p.add_argument("--min-time", type=float, default=0.1, help="seconds per timed block (default 0.1)")
    args = p.parse_args(argv)

    import jax
    import torch

    jax.config.update("jax_enable_x64", True)  # float64 cases; float32 arrays stay float32
    torch.set_num_threads(1)
    print(
        f"optcore {optcore.__version__} (gemm: {gemm_backend()}), torch {torch.__version__}, "
        f"jax {jax.__version__}; medians over {args.rounds} rounds\n"
    )
    print(
        "| dtype | W | batch | optcore (µs/step) | torch eager (µs/step) | jax jit step (µs/step) | "
        "optcore / fastest (median of rounds) | min - max over rounds |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for dtype in args.dtypes:
        for W in args.widths:
            for batch in args.batches:
                widths = (D_IN, W, W, 1)
                X, Y = make_data(0, batch, dtype)
                theta = MLP(list(widths), dtype=dtype).init(1, scheme="he", seed=0)[0]
                case = SingleCase(widths, X, Y, theta, 0.01)
                torch_impl = TorchSingle(case)
                blocks = {"optcore": optcore_block(case), "torch": torch_impl.block, "jax": jax_block(case)}
                counts = {name: steps_for(b, args.min_time) for name, b in blocks.items()}
                times = {name: [] for name in blocks}
                names = list(blocks)
                for r in range(args.rounds):
                    for name in names[r % 3 :] + names[: r % 3]:  # rotate who goes first
                        start = time.perf_counter()
                        blocks[name](counts[name])
                        times[name].append((time.perf_counter() - start) / counts[name])
                ratios = [min(times["torch"][r], times["jax"][r]) / times["optcore"][r] for r in range(args.rounds)]
                us = {name: median(t) * 1e6 for name, t in times.items()}
                print(
                    f"| {dtype} | {W} | {batch} | {us['optcore']:.0f} | {us['torch']:.0f} | {us['jax']:.0f} | "
                    f"{median(ratios):.2f} | {min(ratios):.2f} - {max(ratios):.2f} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
