"""A small, real rate study: ``python -m optcore.demo`` (THEORY.md 4.7's instance, in about a second).

n = 64 components f_i(x) = 1/2 (x - b_i)^2 with b = (+1)^32 (-1)^32, x0 = 1, step 3 log(nK)/(nK), and the mean
final gap E[F(x_K) - F*] over many runs for each order and number of epochs K, with the fitted log-log slope.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from .problems import shuffling_benchmark_1d
from .schedules import reference_step_size
from .sgd import run_sgd

ORDERS = {"with_replacement": -1.0, "random_reshuffling": -3.0, "single_shuffle": -2.0, "incremental": -2.0}


def rate_table(epochs=(8, 16, 32, 64, 128), runs: int = 2000, seed: int = 0, n: int = 64):
    """Mean final gaps, shape (orders, len(epochs)), their standard errors, and the fitted slopes (K >= 16)."""
    problem = shuffling_benchmark_1d(n)
    means, sems = [], []
    for order in ORDERS:
        m, s = [], []
        for K in epochs:
            res = run_sgd(
                problem,
                order=order,
                epochs=K,
                step_size=reference_step_size(n, K),
                x0=[1.0],
                runs=runs,
                seed=seed,
                record=("gap",),
            )
            final = res.gap[:, -1]
            m.append(final.mean())
            s.append(final.std(ddof=1) / np.sqrt(runs) if runs > 1 else 0.0)
        means.append(m)
        sems.append(s)
    K = np.asarray(epochs, dtype=float)
    use = K >= 16
    slopes = [np.polyfit(np.log(K[use]), np.log(np.asarray(m)[use]), 1)[0] for m in means]
    return np.array(means), np.array(sems), np.array(slopes)


def main(argv=None) -> None:
    """Print the rate table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    epochs = (8, 16, 32, 64, 128)
    start = time.perf_counter()
    means, _, slopes = rate_table(epochs, runs=args.runs, seed=args.seed)
    elapsed = time.perf_counter() - start
    print(f"E[F(x_K) - F*] over {args.runs} runs, n = 64 (THEORY.md 4.7)")
    print(f"{'order':<20}" + "".join(f"{'K=' + str(k):>10}" for k in epochs) + f"{'slope':>8}{'theory':>8}")
    for (order, theory), row, slope in zip(ORDERS.items(), means, slopes, strict=True):
        print(f"{order:<20}" + "".join(f"{v:>10.2e}" for v in row) + f"{slope:>8.2f}{theory:>8.0f}")
    print("slopes fitted for K >= 16; theory: 1/(nK), 1/(nK^3), 1/(nK^2), 1/K^2 up to log factors")
    print(f"{len(ORDERS) * len(epochs) * args.runs} SGD runs in {elapsed:.2f} s")


if __name__ == "__main__":
    main()
