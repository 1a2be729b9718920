"""Bures-Wasserstein GD steps per second: optcore's C++ loop vs a NumPy loop vs a JAX jit loop, side by side.

One run of full-batch GD on a deep linear generator of widths (d, d, ..., d) (depth N, every layer d x d) fitting a
target N(0, Sigma_0) with the smoothed BW loss (tau = 0.1), the same step for all implementations:

* optcore: ``run_generator_gd`` (the whole step loop in C++, one-sided Jacobi SVD for the nuclear form);
* numpy: a Python loop, the end-to-end gradient 2 (W - R_0 U V^T) from ``numpy.linalg.svd`` of R_0 [W, sqrt(tau) I]
  and the chain rule by explicit products;
* jax: the same step under ``jax.jit`` (the loop over steps in ``lax.fori_loop``), CPU, when jax is importable
  (it is not a dependency: ``pip install jax jaxlib`` into a separate environment). Skipped with a message
  otherwise.

Each implementation's final loss is checked against optcore's (relative 1e-8), so a faster wrong answer fails.

    python bench/bench_bw.py                       # depth 2 and 8, d = 20, 2000 steps, 3 repeats
    python bench/bench_bw.py --quick               # smoke test
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from optcore.implicit_bias import bures_wasserstein as bw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_time  # noqa: E402


def numpy_gd(layers, R0, tau, steps, lr):
    """The reference loop: returns the final loss."""
    layers = [L.copy() for L in layers]
    d = R0.shape[0]
    extra = np.sqrt(tau) * R0
    trace0 = float(np.sum(R0 * R0))

    def step(layers, want_grad=True):
        F = [layers[0]]
        for L in layers[1:]:
            F.append(L @ F[-1])
        W = F[-1]
        A = np.hstack([R0 @ W, extra])
        U, s, Vt = np.linalg.svd(A, full_matrices=False)
        loss = np.sum(W * W) + tau * d + trace0 - 2 * s.sum()
        if not want_grad:
            return loss, None
        G = 2 * (W - R0 @ (U @ Vt[:, : W.shape[1]]))
        grads = [None] * len(layers)
        H = G
        for j in range(len(layers) - 1, -1, -1):
            grads[j] = H @ F[j - 1].T if j > 0 else H
            H = layers[j].T @ H
        return loss, grads

    for _ in range(steps):
        _, grads = step(layers)
        layers = [L - lr * g for L, g in zip(layers, grads, strict=True)]
    return step(layers, want_grad=False)[0]


def jax_gd_factory(depth, R0, tau, lr):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    R0j = jnp.asarray(R0)
    extra = jnp.sqrt(tau) * R0j
    d = R0.shape[0]
    trace0 = float(np.sum(R0 * R0))

    def loss_fn(layers):
        W = layers[0]
        for L in layers[1:]:
            W = L @ W
        s = jnp.linalg.svd(jnp.hstack([R0j @ W, extra]), compute_uv=False)
        return jnp.sum(W * W) + tau * d + trace0 - 2 * jnp.sum(s)

    grad_fn = jax.grad(loss_fn)

    @jax.jit
    def run(layers, steps):
        def body(_, ls):
            g = grad_fn(ls)
            return [L - lr * gl for L, gl in zip(ls, g, strict=True)]

        out = jax.lax.fori_loop(0, steps, body, layers)
        return loss_fn(out)

    return lambda layers, steps: float(run([jnp.asarray(L) for L in layers], steps))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=20)
    ap.add_argument("--depths", type=int, nargs="+", default=[2, 8])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tau", type=float, default=0.1)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.steps, args.repeats, args.d = 100, 1, 8
    d, tau, lr = args.d, args.tau, 1e-3
    target = bw.Target.zipf(d, seed=0)
    try:
        import jax  # noqa: F401

        have_jax = True
    except ImportError as exc:
        have_jax = False
        print(f"jax skipped: not importable ({exc})")
    rows = []
    for N in args.depths:
        gen = bw.LinearGenerator((d,) * (N + 1))
        theta0 = bw.init_balanced(gen, seed=0, scale=0.5)
        layers = gen.layers(theta0[0])
        t_c, res = median_time(
            lambda gen=gen, theta0=theta0: bw.run_generator_gd(
                gen, target, theta0, steps=args.steps, step_size=lr, tau=tau, record_at=[args.steps], threads=1
            ),
            args.repeats,
        )
        ref = float(res.loss[0, -1])
        t_np, loss_np = median_time(lambda layers=layers: numpy_gd(layers, target.root, tau, args.steps, lr), args.repeats)
        assert abs(loss_np - ref) <= 1e-8 * abs(ref), (loss_np, ref)
        row = {"depth": N, "optcore": args.steps / t_c, "numpy": args.steps / t_np, "jax": float("nan")}
        if have_jax:
            run = jax_gd_factory(N, target.root, tau, lr)
            run(layers, 1)  # compile
            t_j, loss_j = median_time(lambda layers=layers, run=run: run(layers, args.steps), args.repeats)
            assert abs(loss_j - ref) <= 1e-8 * abs(ref), (loss_j, ref)
            row["jax"] = args.steps / t_j
        rows.append(row)
        print(row, flush=True)
    print(f"\nBW GD steps per second, d = {d}, tau = {tau}, {args.steps} steps, median of {args.repeats}, 1 thread\n")
    print("| depth | optcore (C++) | NumPy loop | JAX jit | optcore / NumPy | optcore / JAX |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        jx = f"{r['jax']:.0f}" if np.isfinite(r["jax"]) else "skipped"
        ratio_j = f"{r['optcore'] / r['jax']:.1f}x" if np.isfinite(r["jax"]) else "-"
        print(f"| {r['depth']} | {r['optcore']:.0f} | {r['numpy']:.0f} | {jx} | {r['optcore'] / r['numpy']:.1f}x | "
              f"{ratio_j} |")


if __name__ == "__main__":
    main()
