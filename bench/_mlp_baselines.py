"""Baselines for bench_mlp.py: the same MLP training steps in PyTorch (eager) and JAX (jit), plus the timing helpers.

Two workloads (see bench_mlp.py for what is measured):

* single: one network (widths d_in, W, W, 1), ReLU, squared loss 1/2 |f - y|^2 averaged over a fixed batch,
  repeated full-batch SGD steps theta <- theta - step * grad F(theta) on that batch.
* many: R one-hidden-layer networks trained side by side by full-batch GD on shared data (X, Y).

Parameters travel between implementations as optcore's flat layout: per layer W (d_out x d_in, row-major), then b.
Every implementation starts from the same parameters (optcore's ``MLP.init``) and records the loss of every step
(optcore: record=("objective",); PyTorch: the loss tensors are kept; JAX: the losses are returned by the step or
stacked by lax.scan), so that no implementation skips the loss.

JAX runs in a subprocess (``python bench/_mlp_baselines.py jax-worker IN OUT``) because its CPU thread count is
fixed when jax is imported: the worker pins itself to ``threads`` CPUs and sets XLA_FLAGS before importing jax.
This module imports neither optcore nor torch nor jax at the top, so the worker starts clean.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from dataclasses import dataclass

import numpy as np
from _common import pin_jax_worker


@dataclass
class SingleCase:
    """One network, one fixed batch: the workload of the per-step measurements."""

    widths: tuple[int, ...]
    X: np.ndarray  # (batch, d_in), dtype of the case
    Y: np.ndarray  # (batch, 1)
    theta: np.ndarray  # (P,) optcore layout
    step: float

    @property
    def dtype(self) -> str:
        return str(self.X.dtype)

    @property
    def W(self) -> int:
        return self.widths[1]

    @property
    def batch(self) -> int:
        return self.X.shape[0]

    @property
    def key(self):
        return (self.dtype, self.W, self.batch)


@dataclass
class ManyCase:
    """R networks, shared data, full-batch GD for `steps` steps."""

    widths: tuple[int, ...]
    X: np.ndarray  # (n, d_in) float32
    Y: np.ndarray  # (n, 1)
    theta: np.ndarray  # (R, P) optcore layout
    steps: int
    step: float

    @property
    def R(self) -> int:
        return self.theta.shape[0]


def split_layers(widths, theta):
    """[(W, b)] of flat parameters theta (..., P): W (..., out, in), b (..., out); views, optcore's layout."""
    out, off = [], 0
    lead = theta.shape[:-1]
    for i, o in zip(widths[:-1], widths[1:], strict=True):
        W = theta[..., off : off + o * i].reshape(*lead, o, i)
        off += o * i
        b = theta[..., off : off + o]
        off += o
        out.append((W, b))
    if off != theta.shape[-1]:
        raise ValueError(f"widths {widths} need {off} parameters, got {theta.shape[-1]}")
    return out


def join_layers(layers) -> np.ndarray:
    """Inverse of split_layers: flat parameters (..., P) from [(W, b)] numpy arrays."""
    parts = []
    for W, b in layers:
        parts += [W.reshape(*W.shape[:-2], -1), b]
    return np.concatenate(parts, axis=-1)


# ---------------------------------------------------------------------------------------------------- timing


def timed(block, count: int) -> float:
    """Wall time of block(count)."""
    start = time.perf_counter()
    block(count)
    return time.perf_counter() - start


def calibrate(block, min_time: float, cap: int = 1 << 22) -> int:
    """The smallest count (grown from 1) for which block(count) takes at least min_time seconds (or cap)."""
    count = 1
    while True:
        t = timed(block, count)
        if t >= min_time or count >= cap:
            return count
        guess = int(count * 1.3 * min_time / max(t, 1e-9))  # t overestimates the per-item time: never overshoots
        count = min(cap, max(2 * count, guess))


def per_item_times(block, min_time: float, repeats: int):
    """Calibrate block's count to min_time, then `repeats` timed blocks; return (count, [seconds per item])."""
    count = calibrate(block, min_time)
    return count, [timed(block, count) / count for _ in range(repeats)]


# ---------------------------------------------------------------------------------------------------- PyTorch


def torch_dtype(torch, name: str):
    return {"float32": torch.float32, "float64": torch.float64}[name]


class TorchSingle:
    """PyTorch eager: nn.Sequential of Linear/ReLU, loss.backward(), manual SGD update under no_grad."""

    def __init__(self, case: SingleCase):
        import torch

        self.torch, self.case = torch, case
        dt = torch_dtype(torch, case.dtype)
        mods = []
        for k, (W, b) in enumerate(split_layers(case.widths, case.theta)):
            lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=dt)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(W))
                lin.bias.copy_(torch.from_numpy(b))
            mods.append(lin)
            if k < len(case.widths) - 2:
                mods.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*mods)
        self.params = list(self.model.parameters())
        self.X, self.Y = torch.from_numpy(case.X), torch.from_numpy(case.Y)
        self.losses = []

    def step(self) -> None:
        torch = self.torch
        out = self.model(self.X)
        loss = 0.5 * ((out - self.Y) ** 2).sum(1).mean()  # optcore's squared loss, mean reduction
        loss.backward()
        with torch.no_grad():
            for p in self.params:
                p.add_(p.grad, alpha=-self.case.step)
                p.grad = None
        self.losses.append(loss.detach())

    def block(self, count: int) -> None:
        self.losses = []
        for _ in range(count):
            self.step()

    def flat(self) -> np.ndarray:
        mods = [m for m in self.model if isinstance(m, self.torch.nn.Linear)]
        return join_layers([(m.weight.detach().numpy(), m.bias.detach().numpy()) for m in mods])


def torch_one_step(case: SingleCase) -> np.ndarray:
    """Parameters after one PyTorch step from case.theta."""
    t = TorchSingle(case)
    t.step()
    return t.flat()


def run_torch_many(case: ManyCase, threads: int):
    """R nets stacked: parameters (R, out, in) with requires_grad, batched matmul (bmm), autograd of the summed
    per-net losses (each net's gradient is its own), in-place update under no_grad; one eager loop of `steps`.

    Returns (final parameters (R, P), final losses (R,), per-step losses (steps, R))."""
    import torch

    torch.set_num_threads(threads)
    X, Y = torch.from_numpy(case.X), torch.from_numpy(case.Y)
    params = []
    for W, b in split_layers(case.widths, case.theta):
        params += [torch.from_numpy(W.copy()).requires_grad_(), torch.from_numpy(b.copy()).requires_grad_()]
    n_layers = len(case.widths) - 1

    def losses_of():
        h = X  # (n, d_in), broadcast against (R, out, in): X @ W^T is a bmm over the R nets
        for k in range(n_layers):
            W, b = params[2 * k], params[2 * k + 1]
            h = h @ W.transpose(1, 2) + b[:, None, :]
            if k < n_layers - 1:
                h = torch.relu(h)
        return 0.5 * ((h - Y) ** 2).sum(2).mean(1)  # (R,)

    history = []
    for _ in range(case.steps):
        loss = losses_of()
        loss.sum().backward()
        with torch.no_grad():
            for p in params:
                p.add_(p.grad, alpha=-case.step)
                p.grad = None
        history.append(loss.detach())
    with torch.no_grad():
        final = losses_of().numpy()
    flat = join_layers([(params[2 * k].detach().numpy(), params[2 * k + 1].detach().numpy()) for k in range(n_layers)])
    return flat, final, torch.stack(history).numpy()


# ---------------------------------------------------------------------------------------------------- JAX


def jax_loss(jnp, layers, X, Y):
    """Squared loss 1/2 |f - y|^2 averaged over the examples; ReLU hidden layers, linear output."""
    import jax

    h = X
    for k, (W, b) in enumerate(layers):
        h = h @ W.T + b
        if k < len(layers) - 1:
            h = jax.nn.relu(h)
    return 0.5 * jnp.mean(jnp.sum((h - Y) ** 2, axis=1))


def jax_single(case: SingleCase, min_time: float, repeats: int):
    """Per-step jit (value_and_grad + update, one call per step) and the S-steps-in-one-jit-call variant."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    X, Y = jnp.asarray(case.X), jnp.asarray(case.Y)
    p0 = [(jnp.asarray(W), jnp.asarray(b)) for W, b in split_layers(case.widths, case.theta)]
    lr = case.step

    def sgd(p):
        loss, g = jax.value_and_grad(lambda q: jax_loss(jnp, q, X, Y))(p)
        return jax.tree.map(lambda a, ga: a - lr * ga, p, g), loss

    step = jax.jit(sgd)

    @jax.jit
    def steps(p, count):  # count is traced: one compilation for every S (lax.fori_loop becomes a while loop)
        def body(_, carry):
            q, _ = carry
            return sgd(q)

        return lax.fori_loop(0, count, body, (p, jnp.zeros((), X.dtype)))

    state = {"p": p0}

    def step_block(count: int) -> None:
        p, losses = state["p"], []
        for _ in range(count):
            p, loss = step(p)
            losses.append(loss)  # recorded, as every implementation does
        jax.block_until_ready((p, losses))
        state["p"] = p

    def scan_block(count: int) -> None:
        jax.block_until_ready(steps(p0, count))

    start = time.perf_counter()
    one, _ = step(p0)
    jax.block_until_ready(one)
    jax.block_until_ready(steps(p0, 2))
    compile_s = time.perf_counter() - start
    step_block(3)  # warm-up
    S_step, t_step = per_item_times(step_block, min_time, repeats)
    S_scan, t_scan = per_item_times(scan_block, min_time, repeats)
    flat = join_layers([(np.asarray(W), np.asarray(b)) for W, b in one])
    return {
        "step": {"times": t_step, "count": S_step},
        "scan": {"times": t_scan, "count": S_scan},
        "one_step": flat,
        "compile_s": compile_s,
    }


def jax_many(case: ManyCase, repeats: int):
    """jit(lax.scan over steps of (vmap over nets of value_and_grad + update)); per-step losses stacked."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    X, Y = jnp.asarray(case.X), jnp.asarray(case.Y)
    lr = case.step

    def loss_fn(p):
        return jax_loss(jnp, p, X, Y)

    vg = jax.vmap(jax.value_and_grad(loss_fn))

    @jax.jit
    def train(p):
        def body(q, _):
            losses, g = vg(q)
            return jax.tree.map(lambda a, ga: a - lr * ga, q, g), losses

        p, history = lax.scan(body, p, None, length=case.steps)
        return p, jax.vmap(loss_fn)(p), history

    p0 = [(jnp.asarray(W), jnp.asarray(b)) for W, b in split_layers(case.widths, case.theta)]

    def run():
        return jax.block_until_ready(train(p0))

    start = time.perf_counter()
    run()  # compile + warm-up, same shapes; not timed
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        p, final, history = run()
        times.append(time.perf_counter() - start)
    flat = join_layers([(np.asarray(W), np.asarray(b)) for W, b in p])
    return {
        "times": times,
        "x": flat,
        "final": np.asarray(final),
        "history": np.asarray(history),
        "compile_s": compile_s,
    }


def jax_worker(in_path: str, out_path: str) -> None:
    """Subprocess entry: pin to `threads` CPUs, set XLA_FLAGS, import jax, run the single and many jobs."""
    with open(in_path, "rb") as f:
        job = pickle.load(f)
    threads = job["threads"]
    cpus = pin_jax_worker(threads)
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 cases; float32 arrays stay float32
    results = {
        "jax_version": jax.__version__,
        "cpus": cpus,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "single": {},
        "many": None,
    }
    for case in job["single"]:
        results["single"][case.key] = jax_single(case, job["min_time"], job["repeats"])
    if job["many"] is not None:
        results["many"] = jax_many(job["many"], job["many_repeats"])
    with open(out_path, "wb") as f:
        pickle.dump(results, f)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "jax-worker":
        sys.exit("usage: python bench/_mlp_baselines.py jax-worker IN.pkl OUT.pkl (started by bench_mlp.py)")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _mlp_baselines import jax_worker as worker  # the dataclasses must be this module's, not __main__'s

    worker(sys.argv[2], sys.argv[3])
