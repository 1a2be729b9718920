"""Construction time, weight size and float64 error of the memorizing networks (optcore.memorization).

    python bench/bench_memorization.py            # N = 100, 1000, 10000
    python bench/bench_memorization.py --N 100 1000

For each N: random inputs (dx = 10, Gaussian rounded to 1e-3) and labels uniform in [-1, 1]; the construction
at the minimal widths; the time to build it in exact rationals, the largest weight, and max |f(x_i) - y_i| of
the float64 network evaluated by optcore's C++ forward pass. The exact check in rationals is timed too for
N <= 1000 (it is slow in pure Python beyond).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from optcore.memorization import float64_error, memorize, minimal_widths, verify_exact


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--dx", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print("| N | widths (D1, D2) | build (s) | exact check (s) | max abs weight | float64 max error |")
    print("|---:|---|---:|---:|---:|---:|")
    for N in args.N:
        rng = np.random.default_rng(args.seed + N)
        X = np.round(rng.standard_normal((N, args.dx)) * 1e3) / 1e3
        Y = rng.uniform(-1, 1, N)
        start = time.perf_counter()
        c = memorize(X, Y, seed=args.seed)
        build = time.perf_counter() - start
        exact = "-"
        if N <= 1000:
            start = time.perf_counter()
            assert verify_exact(c, X, Y)
            exact = f"{time.perf_counter() - start:.2f}"
        err = float64_error(c, X, Y)
        print(f"| {N} | {minimal_widths(N)} | {build:.2f} | {exact} | {c.max_weight():.2g} | {err:.1e} |", flush=True)


if __name__ == "__main__":
    main()
