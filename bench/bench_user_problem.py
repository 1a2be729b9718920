"""Cost of a problem given by a Python gradient (optcore.UserProblem) against the compiled kind of the same problem.

What is measured
----------------
Least squares f_i(x) = 1/2 (a_i'x - b_i)^2, Gaussian A (n=500, d=10), b = A x_true + 0.1 noise, float64; random
reshuffling, K epochs, constant step 0.005 from x0 = 0, gap and distance recorded at epoch ends (record="auto"),
R runs (R in 1, 1000) and batch sizes B (1 and 16 by default). The same call of optcore.run_sgd runs

* ``builtin``: optcore.LeastSquares (the C++ loop), threads=1;
* ``callback``: optcore.UserProblem with a NumPy gradient(X, idx) vectorized over runs (the gather A[idx] and two
  einsums), with x_star, f_star and the Hessian given so that it records the same gaps: the engine's NumPy loop,
  one Python call per step for all R runs.

Metric: steps per second = steps per epoch * K / wall time of the whole call (a step advances all R runs), and
run-steps per second = R times that; the median over --repeats calls after one warm-up call. The compiled kind
runs --builtin-epochs epochs (default 20 K) so that its call overhead does not dominate. The ratio column is
builtin / callback steps per second. Correctness: the two final iterates after K epochs must agree to 1e-10
relative (else exit status 1).

How to run (by hand; not part of CI)::

    python bench/bench_user_problem.py                 # R = 1 and 1000, B = 1 and 16, 5 repeats
    python bench/bench_user_problem.py --quick         # smoke test
    python bench/bench_user_problem.py --markdown bench/results/user_problem.md
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from statistics import median

import numpy as np

import optcore


def least_squares_callback(problem: optcore.LeastSquares) -> optcore.UserProblem:
    """The compiled problem again as NumPy functions vectorized over runs (as a user would write it)."""
    A, b = problem.A, problem.b

    def gradient(X, idx):
        a = A[idx]  # (rows, B, d)
        r = np.einsum("rbd,rd->rb", a, X) - b[idx]
        return np.einsum("rb,rbd->rd", r, a) / idx.shape[1]

    def value(X, idx):
        r = np.einsum("rbd,rd->rb", A[idx], X) - b[idx]
        return 0.5 * np.mean(r * r, axis=1)

    return optcore.UserProblem(gradient, problem.n, problem.dim, value=value, x_star=problem.x_star,
                               f_star=problem.f_star, hessian=problem.hessian)


def timed(problem, *, runs, batch, epochs, repeats):
    """(median seconds, result) of optcore.run_sgd over `repeats` calls after a warm-up."""
    options = dict(order="rr", epochs=epochs, step_size=0.005, runs=runs, batch_size=batch, seed=0, threads=1)
    optcore.run_sgd(problem, **{**options, "epochs": 1})
    times, res = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        res = optcore.run_sgd(problem, **options)
        times.append(time.perf_counter() - start)
    return median(times), res


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 1000])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--dim", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--builtin-epochs", type=int, default=None, help="epochs of the compiled kind (20 K)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat")
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.batch, args.n, args.epochs, args.repeats = [1, 8], [1], 50, 2, 1
    builtin_epochs = args.builtin_epochs or 20 * args.epochs
    problem = optcore.LeastSquares.random(args.n, args.dim, seed=0)
    callback = least_squares_callback(problem)
    lines = [
        f"Least squares n = {args.n}, d = {args.dim}, random reshuffling, K = {args.epochs}, float64, gap and "
        f"distance at epoch ends; median of {args.repeats} calls; builtin threads=1 and K = {builtin_epochs}. "
        f"numpy {np.__version__}, Python {platform.python_version()}.",
        "",
        "| R | B | builtin steps/s | callback steps/s | callback run-steps/s | builtin / callback |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    failures = []
    for runs in args.runs:
        for batch in args.batch:
            per_epoch = -(-args.n // batch)
            t_builtin, _ = timed(problem, runs=runs, batch=batch, epochs=builtin_epochs, repeats=args.repeats)
            t_callback, r_callback = timed(callback, runs=runs, batch=batch, epochs=args.epochs, repeats=args.repeats)
            _, r_builtin = timed(problem, runs=runs, batch=batch, epochs=args.epochs, repeats=1)
            if not np.allclose(r_callback.x, r_builtin.x, rtol=1e-10, atol=1e-12):
                failures.append(f"R={runs} B={batch}: final iterates differ")
            builtin_rate, callback_rate = per_epoch * builtin_epochs / t_builtin, per_epoch * args.epochs / t_callback
            lines.append(
                f"| {runs} | {batch} | {builtin_rate:,.0f} | {callback_rate:,.0f} | {runs * callback_rate:,.0f} | "
                f"{builtin_rate / callback_rate:.0f} |"
            )
            print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    if failures:
        report += "\nCheck failures:\n" + "\n".join(f"- {f}" for f in failures) + "\n"
    print("\n" + report)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(report)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
