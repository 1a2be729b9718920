"""Game steps per second: OMWU on n x n games, many runs, optcore's C++ against NumPy (vectorized over runs) and
JAX (jit + vmap, when installed), side by side. All three compute the same iterates (checked).

    python bench/bench_games.py                    # n = 10, 1024 runs (the table in bench/README.md)
    python bench/bench_games.py --quick            # smoke test
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import available_baselines, finish_report  # noqa: E402

from optcore import games  # noqa: E402


def omwu_numpy(A, eta, steps):
    """OMWU from the uniform start, vectorized over runs: A (R, n, m), eta (R,). Log-weights, max-shifted."""
    R, n, m = A.shape
    lx, ly = np.full((R, n), -np.log(n)), np.full((R, m), -np.log(m))
    x, y = np.exp(lx), np.exp(ly)
    gxp, gyp = np.einsum("rij,rj->ri", A, y), np.einsum("rij,ri->rj", A, x)
    e = eta[:, None]
    for _ in range(steps):
        gx, gy = np.einsum("rij,rj->ri", A, y), np.einsum("rij,ri->rj", A, x)
        lx = lx + e * (2 * gx - gxp)
        ly = ly - e * (2 * gy - gyp)
        lx -= lx.max(axis=1, keepdims=True)
        ly -= ly.max(axis=1, keepdims=True)
        x, y = np.exp(lx), np.exp(ly)
        x /= x.sum(axis=1, keepdims=True)
        y /= y.sum(axis=1, keepdims=True)
        gxp, gyp = gx, gy
    return x, y


def omwu_jax(A, eta, steps):
    """The same in JAX: one run's loop (lax.fori_loop), vmapped over runs, jitted; returns (fn, compile time)."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def one(a, et):
        n, m = a.shape
        lx, ly = jnp.full(n, -jnp.log(n)), jnp.full(m, -jnp.log(m))
        x, y = jnp.exp(lx), jnp.exp(ly)

        def body(_, s):
            lx, ly, x, y, gxp, gyp = s
            gx, gy = a @ y, a.T @ x
            lx = lx + et * (2 * gx - gxp)
            ly = ly - et * (2 * gy - gyp)
            lx, ly = lx - lx.max(), ly - ly.max()
            x, y = jnp.exp(lx), jnp.exp(ly)
            return lx, ly, x / x.sum(), y / y.sum(), gx, gy

        s = jax.lax.fori_loop(0, steps, body, (lx, ly, x, y, a @ y, a.T @ x))
        return s[2], s[3]

    fn = jax.jit(jax.vmap(one))
    Aj, ej = jnp.asarray(A), jnp.asarray(eta)
    start = time.perf_counter()
    fn(Aj, ej)[0].block_until_ready()  # compile (and one run)
    compile_s = time.perf_counter() - start
    return (lambda: tuple(np.asarray(v) for v in fn(Aj, ej))), compile_s


def best_time(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--runs", type=int, default=1024)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="n = 5, 64 runs, 200 steps, 1 repeat")
    p.add_argument("--markdown", type=Path, default=None, help="also write the report here")
    a = p.parse_args(argv)
    if a.quick:
        a.n, a.runs, a.steps, a.repeats = 5, 64, 200, 1
    found, skipped = available_baselines(("jax",), {"numpy": np.__version__})
    A = games.random_games(a.n, seeds=range(a.runs))
    eta = np.random.default_rng(0).uniform(0.05, 0.2, a.runs)
    work = a.runs * a.steps
    rows, failures = [], []

    def optcore_run(threads):
        res = games.run_game(A, "omwu", steps=a.steps, step_size=eta, equilibrium=None, record_every=a.steps,
                             threads=threads)
        return res.x, res.y

    ref = None
    for threads in sorted({1, os.cpu_count() or 1}):
        t, out = best_time(lambda threads=threads: optcore_run(threads), a.repeats)
        ref = out if ref is None else ref
        rows.append((f"optcore C++ ({threads} thread{'s' if threads > 1 else ''})", t, 0.0))
    t, out = best_time(lambda: omwu_numpy(A, eta, a.steps), a.repeats)
    rows.append((f"NumPy {np.__version__} (vectorized over runs)", t, float(np.abs(out[0] - ref[0]).max())))
    if "jax" in found:
        fn, compile_s = omwu_jax(A, eta, a.steps)
        t, out = best_time(fn, a.repeats)
        rows.append((f"JAX {found['jax']} jit+vmap (compile {compile_s:.2f} s)", t,
                     float(np.abs(out[0] - ref[0]).max())))
    for name, _, err in rows:
        if err > 1e-9:
            failures.append(f"{name}: final x differs from optcore's by {err:.2e}")
    report = (f"# OMWU game steps per second: n = {a.n}, {a.runs} runs x {a.steps} steps, float64, best of "
              f"{a.repeats}\n\n| implementation | time (s) | run-steps / s | max abs diff of x vs optcore |\n"
              "|---|---:|---:|---:|\n")
    for name, t, err in rows:
        report += f"| {name} | {t:.3f} | {work / t:.3g} | {err:.1e} |\n"
    for name, why in skipped.items():
        report += f"| {name} | skipped: {why} | | |\n"
    return finish_report(report, failures, a.markdown)


if __name__ == "__main__":
    sys.exit(main())
