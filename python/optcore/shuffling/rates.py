"""Rate measurements: mean final gaps over many runs, and log-log slopes with confidence intervals."""

from __future__ import annotations

import numpy as np

from ..sgd import run_sgd


def final_gap_stats(problem, *, order: str, epochs: int, step_size: float, x0, runs: int, seed: int, **engine):
    """Mean and standard error of F(x_K) - F* over ``runs`` runs of one engine call."""
    res = run_sgd(
        problem, order=order, epochs=epochs, step_size=step_size, x0=x0, runs=runs, seed=seed, record=("gap",), **engine
    )
    final = res.gap[:, -1].astype(np.float64)
    sem = float(final.std(ddof=1) / np.sqrt(runs)) if runs > 1 else float("nan")
    return {"gap": float(final.mean()), "gap_sem": sem, "seconds": res.meta["elapsed_s"]}


def loglog_slope_ci(x, mean, sem, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0):
    """Least-squares slope of log(mean) on log(x), with a parametric-bootstrap interval.

    Each bootstrap draw replaces every mean by mean + sem * N(0, 1) (the sampling error of a mean over many runs
    is close to Gaussian) and refits; the interval is the central ``level`` quantile range of the refitted slopes.
    """
    x, mean, sem = (np.asarray(v, dtype=np.float64) for v in (x, mean, sem))
    lx = np.log(x)
    slope = float(np.polyfit(lx, np.log(mean), 1)[0])
    rng = np.random.default_rng(seed)
    draws = mean + np.nan_to_num(sem) * rng.standard_normal((n_boot, mean.size))
    draws = np.maximum(draws, np.min(mean) * 1e-3)  # a draw below zero would have no logarithm
    slopes = np.polyfit(lx, np.log(draws).T, 1)[0]
    lo, hi = np.quantile(slopes, [(1 - level) / 2, (1 + level) / 2])
    return slope, float(lo), float(hi)
