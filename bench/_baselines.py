"""Baselines for bench_sgd.py: the same batched SGD on least squares in NumPy, PyTorch (eager) and JAX.

Every runner does the whole job inside the call that bench_sgd.py times: it generates its own orders, runs
R independent runs of K epochs of batch-size-1 SGD on f_i(x) = 1/2 (a_i'x - b_i)^2 from x0 = 0, and records the
objective gap F(x) - F* = 1/2 (x - x*)' H (x - x*) at every epoch end (as optcore does with record=("gap",)).
A runner returns (x, gap): the final iterates (R, d) and the gaps (R, K + 1), initial point included.

JAX runs in a subprocess (``python bench/_baselines.py jax-worker IN OUT``) because its CPU thread count is fixed
when jax is imported: the worker pins itself to ``threads`` CPUs and sets XLA_FLAGS before importing jax.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from dataclasses import dataclass

import numpy as np
from _common import pin_jax_worker

ORDERS = ("with_replacement", "random_reshuffling", "single_shuffle", "incremental")


@dataclass
class Task:
    """The problem and the settings shared by every implementation."""

    A: np.ndarray  # (n, d) float64
    b: np.ndarray  # (n,)
    x_star: np.ndarray  # (d,) a minimizer of F = 1/n sum f_i
    H: np.ndarray  # (d, d) Hessian of F, A'A / n
    epochs: int
    step: float
    seed: int

    @property
    def n(self) -> int:
        return self.A.shape[0]

    @property
    def d(self) -> int:
        return self.A.shape[1]


def make_task(A, b, epochs: int, step: float, seed: int) -> Task:
    """Build a Task; x* and H are computed here, outside every timed region."""
    A = np.ascontiguousarray(A, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    x_star = np.linalg.lstsq(A, b, rcond=None)[0]
    return Task(A, b, x_star, A.T @ A / A.shape[0], epochs, step, seed)


def gap_numpy(x, task: Task):
    """F(x) - F* for each row of x (R, d)."""
    diff = x - task.x_star
    return 0.5 * np.einsum("rd,de,re->r", diff, task.H, diff)


# ---------------------------------------------------------------------------------------------------- NumPy


def numpy_epoch_indices(rng, order: str, n: int, R: int, fixed):
    """Indices (n, R) for one epoch: row t holds the component each run visits at step t."""
    if order == "with_replacement":
        return rng.integers(0, n, size=(n, R))
    if order == "random_reshuffling":
        return rng.permuted(np.tile(np.arange(n), (R, 1)), axis=1).T
    return fixed  # single_shuffle, incremental: the same order every epoch


def numpy_fixed_order(rng, order: str, n: int, R: int):
    """The order reused every epoch by single_shuffle (one permutation per run) and incremental (identity)."""
    if order == "single_shuffle":
        return rng.permuted(np.tile(np.arange(n), (R, 1)), axis=1).T
    return np.broadcast_to(np.arange(n)[:, None], (n, R))


def run_numpy(task: Task, order: str, R: int, threads: int = 1):
    """A Python loop over steps, vectorized across the R runs (threads is ignored: these ops are serial)."""
    A, b, step, n = task.A, task.b, task.step, task.n
    rng = np.random.default_rng(task.seed)
    x = np.zeros((R, task.d))
    gaps = np.empty((R, task.epochs + 1))
    gaps[:, 0] = gap_numpy(x, task)
    fixed = numpy_fixed_order(rng, order, n, R)
    for epoch in range(task.epochs):
        for i in numpy_epoch_indices(rng, order, n, R, fixed):
            a = A[i]  # (R, d)
            r = np.einsum("rd,rd->r", a, x) - b[i]
            x -= step * r[:, None] * a
        gaps[:, epoch + 1] = gap_numpy(x, task)
    return x, gaps


# ---------------------------------------------------------------------------------------------------- PyTorch


def torch_permutations(torch, gen, n: int, R: int):
    """R independent permutations of 0..n-1 as columns of an (n, R) tensor (argsort of uniforms)."""
    keys = torch.rand((R, n), generator=gen, dtype=torch.float64)
    return torch.argsort(keys, dim=1).T.contiguous()


def torch_epoch_indices(torch, gen, order: str, n: int, R: int, fixed):
    """Indices (n, R) for one epoch."""
    if order == "with_replacement":
        return torch.randint(0, n, (n, R), generator=gen)
    if order == "random_reshuffling":
        return torch_permutations(torch, gen, n, R)
    return fixed


def run_torch(task: Task, order: str, R: int, threads: int = 1):
    """PyTorch eager, float64: the NumPy loop with torch ops, torch.set_num_threads(threads)."""
    import torch

    torch.set_num_threads(threads)
    n, step = task.n, task.step
    with torch.inference_mode():
        A, b = torch.from_numpy(task.A), torch.from_numpy(task.b)
        x_star, H = torch.from_numpy(task.x_star), torch.from_numpy(task.H)
        gen = torch.Generator().manual_seed(task.seed)
        x = torch.zeros((R, task.d), dtype=torch.float64)
        gaps = torch.empty((R, task.epochs + 1), dtype=torch.float64)

        def record(column):
            diff = x - x_star
            gaps[:, column] = 0.5 * ((diff @ H) * diff).sum(1)

        record(0)
        if order == "single_shuffle":
            fixed = torch_permutations(torch, gen, n, R)
        else:
            fixed = torch.arange(n).unsqueeze(1).expand(n, R)
        for epoch in range(task.epochs):
            for i in torch_epoch_indices(torch, gen, order, n, R, fixed).unbind(0):
                a = A.index_select(0, i)  # (R, d)
                r = torch.linalg.vecdot(a, x) - b.index_select(0, i)
                x.addcmul_(a, r.unsqueeze(1), value=-step)
            record(epoch + 1)
        return x.numpy(), gaps.numpy()


# ---------------------------------------------------------------------------------------------------- JAX


def make_jax_runner(task: Task, order: str, R: int):
    """jit(vmap over runs of (scan over epochs of (scan over steps))); orders drawn inside with jax.random."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    A, b = jnp.asarray(task.A), jnp.asarray(task.b)
    x_star, H = jnp.asarray(task.x_star), jnp.asarray(task.H)
    n, step = task.n, task.step

    def gap(x):
        diff = x - x_star
        return 0.5 * diff @ H @ diff

    def epoch_indices(key, epoch, fixed):
        k = jax.random.fold_in(key, epoch)
        if order == "with_replacement":
            return jax.random.randint(k, (n,), 0, n)
        if order == "random_reshuffling":
            return jax.random.permutation(k, n)
        return fixed

    def one_run(key, x0):
        fixed = jax.random.permutation(key, n) if order == "single_shuffle" else jnp.arange(n)

        def sgd_step(x, i):
            a = A[i]
            return x - step * (a @ x - b[i]) * a, None

        def epoch(x, e):
            x, _ = lax.scan(sgd_step, x, epoch_indices(key, e, fixed))
            return x, gap(x)

        x, gaps = lax.scan(epoch, x0, jnp.arange(task.epochs))
        return x, jnp.concatenate([gap(x0)[None], gaps])

    @jax.jit
    def run(seed, x0):
        keys = jax.random.split(jax.random.key(seed), R)
        return jax.vmap(one_run)(keys, x0)

    # x0 is an argument, not a constant: otherwise, for incremental order, where the runs do not depend on their
    # keys, XLA sees R identical runs and computes only one of them.
    x0 = jnp.zeros((R, task.d))

    def runner():
        x, gaps = run(task.seed, x0)
        x.block_until_ready()
        return np.asarray(x), np.asarray(gaps)

    return runner


def jax_worker(in_path: str, out_path: str) -> None:
    """Subprocess entry: pin to `threads` CPUs, set XLA_FLAGS, import jax, time every (order, R) job."""
    with open(in_path, "rb") as f:
        job = pickle.load(f)
    threads = job["threads"]
    cpus = pin_jax_worker(threads)
    import jax

    jax.config.update("jax_enable_x64", True)
    task = Task(**job["task"])
    results = {"jax_version": jax.__version__, "cpus": cpus, "xla_flags": os.environ.get("XLA_FLAGS", "")}
    for order, R in job["configs"]:
        runner = make_jax_runner(task, order, R)
        start = time.perf_counter()
        runner()  # compile + warm-up, same shapes; not timed
        compile_s = time.perf_counter() - start
        times = []
        for _ in range(job["repeats"]):
            start = time.perf_counter()
            x, gaps = runner()
            times.append(time.perf_counter() - start)
        results[order, R] = {"times": times, "x": x, "gap": gaps, "compile_s": compile_s}
    with open(out_path, "wb") as f:
        pickle.dump(results, f)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "jax-worker":
        sys.exit("usage: python bench/_baselines.py jax-worker IN.pkl OUT.pkl (started by bench_sgd.py)")
    jax_worker(sys.argv[2], sys.argv[3])
