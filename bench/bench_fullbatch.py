"""Full-batch gradient descent on logistic and exponential losses: optcore against JAX ``lax.fori_loop``.

What is measured
----------------
F(w) = (1/n) sum_i phi(y_i a_i'w), phi logistic or exponential, Gaussian A (n = 200, d = 50), labels y in {-1, +1}
from a random hyperplane, float64, w0 = 0, step 0.1 (logistic) or 0.02 (exponential), --iters (1e5) steps of
w <- w - step grad F(w). optcore: one ``run_sgd(order="incremental", batch_size=n, epochs=iters)`` call, once
recording the objective after every step (``record=("objective",)``) and once recording nothing (``record=()``);
JAX: ``jit`` of a ``lax.fori_loop`` over the steps (one matrix-vector product each way per step), without and with
the objective written into an (iters,) array each step, compiled before timing, in one worker process pinned to
one CPU with XLA's single-thread flags that answers one timed call per request. The metric is iterations per second
= iters / wall time of the call (median of --repeats timed calls, implementations interleaved repeat by repeat so
that load changes hit all alike).

Correctness: the final iterates of optcore and JAX must agree to 1e-9 relative, and optcore's last recorded
objective (at the final iterate) with JAX's objective at its final iterate.

How to run (by hand; not part of CI)::

    taskset -c 0 python bench/bench_fullbatch.py                 # 1e5 iterations, 5 repeats
    python bench/bench_fullbatch.py --iters 2000 --repeats 1     # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import numpy as np
from _common import available_baselines, pin_jax_worker

import optcore

LOSSES = {"logistic": 0.1, "exponential": 0.02}


def make_data(loss: str, n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    y = np.sign(A @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n))
    y[y == 0] = 1.0
    return A, y


def optcore_call(problem, iters: int, record) -> tuple[float, np.ndarray, float]:
    start = time.perf_counter()
    res = optcore.run_sgd(problem, order="incremental", batch_size=problem.n, epochs=iters,
                          step_size=LOSSES[problem.kind], record=record, threads=1)
    elapsed = time.perf_counter() - start
    last = float(res.objective[0, -1]) if record else float("nan")
    return elapsed, res.x[0], last


JAX_WORKER = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, {bench!r})
from _common import pin_jax_worker
pin_jax_worker(1)
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
cfg = json.loads(sys.argv[1])
fns = {{}}
for loss, step in cfg["losses"].items():
    data = np.load(cfg["data"][loss])
    A, y = jnp.asarray(data["A"]), jnp.asarray(data["y"])
    n = A.shape[0]
    Z = A * y[:, None]  # margins m = Z w
    def phi(m, loss=loss):
        return jnp.logaddexp(0.0, -m) if loss == "logistic" else jnp.exp(-m)
    def dphi(m, loss=loss):
        return -jax.nn.sigmoid(-m) if loss == "logistic" else -jnp.exp(-m)
    iters = cfg["iters"]
    @jax.jit
    def plain(w, Z=Z, dphi=dphi, step=step, n=n, iters=iters):
        return jax.lax.fori_loop(0, iters, lambda k, w: w - step * (Z.T @ dphi(Z @ w)) / n, w)
    @jax.jit
    def recorded(w, Z=Z, phi=phi, dphi=dphi, step=step, n=n, iters=iters):
        def body(k, carry):
            w, f = carry
            m = Z @ w
            return w - step * (Z.T @ dphi(m)) / n, f.at[k].set(jnp.mean(phi(m)))
        w, f = jax.lax.fori_loop(0, iters, body, (w, jnp.zeros(iters)))
        return w, f
    final_objective = jax.jit(lambda w, Z=Z, phi=phi: jnp.mean(phi(Z @ w)))
    w0 = jnp.zeros(A.shape[1])
    plain(w0).block_until_ready(); recorded(w0)[0].block_until_ready()  # compiled before any timing
    fns[loss] = (plain, recorded, final_objective, w0)
print("ready", flush=True)
for line in sys.stdin:  # one timed call per request, so that the caller interleaves JAX with its own repeats
    loss, which = line.split()
    plain, recorded, final_objective, w0 = fns[loss]
    t = time.perf_counter()
    if which == "plain":
        w = plain(w0).block_until_ready()
    else:
        w, f = recorded(w0); w.block_until_ready()
    elapsed = time.perf_counter() - t
    # the objective at the final iterate (what optcore records last; JAX's f[-1] is the one before the last step)
    out = dict(t=elapsed, w=np.asarray(w).tolist(), f_last=float(final_objective(w)))
    print(json.dumps(out), flush=True)
"""


class JaxWorker:
    """The JAX side in its own process pinned to one CPU, compiled once, answering one timed call per request."""

    def __init__(self, cfg):
        worker = JAX_WORKER.format(bench=str(Path(__file__).parent))
        self.proc = subprocess.Popen([sys.executable, "-c", worker, json.dumps(cfg)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.kill()
            raise RuntimeError(f"worker failed: {self.proc.stderr.read()[-500:]}")

    def call(self, loss: str, which: str) -> dict:
        self.proc.stdin.write(f"{loss} {which}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--iters", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--d", type=int, default=50)
    p.add_argument("--no-jax", action="store_true")
    args = p.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])
    found, skipped = available_baselines(["jax"] if not args.no_jax else [], {})
    import tempfile

    tmp = Path(tempfile.mkdtemp())
    problems, files = {}, {}
    for loss in LOSSES:
        A, y = make_data(loss, args.n, args.d)
        problems[loss] = (optcore.Logistic if loss == "logistic" else optcore.Exponential)(A, y)
        files[loss] = str(tmp / f"{loss}.npz")
        np.savez(files[loss], A=A, y=y)
    rows, failures = {}, []
    jax = None
    if "jax" in found:
        try:
            jax = JaxWorker(dict(losses=LOSSES, data=files, iters=args.iters))
        except RuntimeError as exc:
            skipped["jax"] = str(exc)
    for loss, problem in problems.items():
        optcore_call(problem, 10, ("objective",))  # warm-up
        times = {"plain": [], "recorded": [], "jax_plain": [], "jax_recorded": []}
        for _ in range(args.repeats):  # interleaved: every implementation's k-th call before any (k+1)-th
            t, x_rec, f_last = optcore_call(problem, args.iters, ("objective",))
            times["recorded"].append(t)
            t, x, _ = optcore_call(problem, args.iters, ())
            times["plain"].append(t)
            if jax:
                j_plain = jax.call(loss, "plain")
                times["jax_plain"].append(j_plain["t"])
                j = jax.call(loss, "recorded")
                times["jax_recorded"].append(j["t"])
        rows[loss] = {key: args.iters / median(v) for key, v in times.items() if v}
        if not np.array_equal(x, x_rec):
            failures.append(f"{loss}: recording the objective changed the iterate")
        if jax:
            err = np.max(np.abs(np.asarray(j["w"]) - x)) / max(np.max(np.abs(x)), 1e-300)
            if err > 1e-9:
                failures.append(f"{loss}: JAX's final iterate differs from optcore's by {err:.2e} relative")
            if abs(j["f_last"] - f_last) > 1e-9 * abs(f_last):
                failures.append(f"{loss}: JAX's objective at its final iterate {j['f_last']!r} != optcore's last "
                                f"recorded {f_last!r}")
    if jax:
        jax.close()
    print(f"# full-batch GD, n = {args.n}, d = {args.d}, {args.iters} iterations, float64, 1 thread "
          f"(load average {os.getloadavg()[0]:.1f}), medians of {args.repeats}")
    print(f"optcore {optcore.__version__}, ISA copy {optcore._core.isa_info()['auto']}; JAX: "
          f"{found.get('jax', skipped.get('jax'))}\n")
    print("| loss | optcore (k it/s) | optcore, objective each step | cost of recording | JAX fori_loop | "
          "JAX, objective each step | optcore / JAX | optcore / JAX (both recording) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for loss, r in rows.items():
        jp, jr = r.get("jax_plain"), r.get("jax_recorded")
        print(f"| {loss} | {r['plain'] / 1e3:.0f} | {r['recorded'] / 1e3:.0f} | {100 * (r['plain'] / r['recorded'] - 1):.0f}% | "
              f"{jp / 1e3 if jp else float('nan'):.0f} | {jr / 1e3 if jr else float('nan'):.0f} | "
              f"{r['plain'] / jp if jp else float('nan'):.2f}x | {r['recorded'] / jr if jr else float('nan'):.2f}x |")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
