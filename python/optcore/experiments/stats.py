"""Statistics every study needs: a log-log slope with a bootstrap confidence interval, a mean with a band, and a
binomial proportion with its Wilson interval.

All are deterministic: the bootstrap draws from ``numpy.random.default_rng(seed)``, and the band uses the exact
Student-t quantile (computed here from the closed-form t distribution function for integer degrees of freedom,
Abramowitz and Stegun 26.7.3-4, or its expansion 26.7.5 for large degrees of freedom, so that SciPy is not
needed).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import NamedTuple

import numpy as np
import pandas as pd


class SlopeFit(NamedTuple):
    """A fitted power law y = exp(intercept) x**slope, with a bootstrap confidence interval for the slope."""

    slope: float
    intercept: float
    ci: tuple[float, float]


def loglog_slope(x, y, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> SlopeFit:
    """Fit log y = intercept + slope log x by least squares, with a percentile-bootstrap interval for the slope.

    Parameters
    ----------
    x : array (P,)
        Positive abscissae (for example the numbers of epochs K), at least two distinct.
    y : array (P,) or (P, S)
        Positive values. 1-D: one value per point; the bootstrap resamples the points. 2-D: S seeds per point;
        the fit is to the log of the mean over seeds, and the bootstrap resamples the seeds of each point
        independently (the right resampling when each point's seeds are independent runs).
    n_boot : int
        Bootstrap resamples; 0 gives no interval (NaN, NaN).
    level : float
        Confidence level of the interval, in (0, 1).
    seed : int
        Seed of the bootstrap's random generator.

    Returns
    -------
    SlopeFit
        ``(slope, intercept, (lo, hi))``; the intercept is in natural-log units.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"x must be 1-D with at least two points, got shape {x.shape}")
    if y.ndim not in (1, 2) or y.shape[0] != x.size:
        raise ValueError(f"y must have shape (P,) or (P, S) with P = len(x) = {x.size}, got {y.shape}")
    if y.ndim == 2 and y.shape[1] < 1:
        raise ValueError("y has no seeds (shape (P, 0))")
    if not (np.all(np.isfinite(x)) and np.all(x > 0)):
        raise ValueError("x must be positive and finite for a log-log fit")
    if not (np.all(np.isfinite(y)) and np.all(y > 0)):
        raise ValueError("y must be positive and finite for a log-log fit (drop diverged or zero values first)")
    if np.unique(x).size < 2:
        raise ValueError("x needs at least two distinct values to fit a slope")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative int, got {n_boot!r}")
    _check_level(level)

    lx = np.log(x)
    ly = np.log(y if y.ndim == 1 else y.mean(axis=1))
    slope, intercept = _ols(lx[None, :], ly[None, :])
    if n_boot == 0:
        return SlopeFit(float(slope[0]), float(intercept[0]), (math.nan, math.nan))
    rng = np.random.default_rng(seed)
    if y.ndim == 1:
        idx = rng.integers(0, x.size, size=(n_boot, x.size))
        boot, _ = _ols(lx[idx], ly[idx])
    else:
        S = y.shape[1]
        means = np.empty((n_boot, x.size))
        for p in range(x.size):
            means[:, p] = y[p, rng.integers(0, S, size=(n_boot, S))].mean(axis=1)
        boot, _ = _ols(np.broadcast_to(lx, means.shape), np.log(means))
    boot = boot[np.isfinite(boot)]  # resamples that drew a single distinct x cannot fit a slope
    if boot.size == 0:
        lo = hi = math.nan
    else:
        lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return SlopeFit(float(slope[0]), float(intercept[0]), (float(lo), float(hi)))


def _ols(lx: np.ndarray, ly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise least-squares slope and intercept; NaN slope where a row's x are all equal."""
    mx = lx.mean(axis=1, keepdims=True)
    my = ly.mean(axis=1, keepdims=True)
    sxx = ((lx - mx) ** 2).sum(axis=1)
    sxy = ((lx - mx) * (ly - my)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1.0), np.nan)
    return slope, my[:, 0] - slope * mx[:, 0]


#: groups with fewer rows than this get no band: with 2 seeds the t quantile is 12.7 (95%) and the band says nothing
MIN_BAND_COUNT = 3


def mean_band(
    table: pd.DataFrame, by, value: str, *, level: float = 0.95, log: bool = False, min_count: int = MIN_BAND_COUNT
) -> pd.DataFrame:
    """Mean of ``value`` over the rows (seeds) of each group, with a Student-t confidence band for the mean.

    Parameters
    ----------
    table : pandas.DataFrame
        A tidy table, e.g. a sweep's.
    by : str or list of str
        The columns that define a group (typically the parameters, without ``seed`` and ``replicate``).
    value : str
        The column to average.
    level : float
        Confidence level of the band, in (0, 1).
    log : bool
        The band is for a logarithmic axis: the t-interval of log(mean) by the delta method,
        mean x exp(-/+ q sem / mean), which is positive and symmetric on the log axis (the linear interval
        mean -/+ q sem can reach below zero, which a log axis cannot show). Groups with a non-positive mean get NaN
        bounds.
    min_count : int
        Groups with fewer rows get NaN bounds (no band): a t-interval from one or two seeds is either undefined or
        so wide (q = 12.7 for two seeds at 95%) that it says nothing.

    Returns
    -------
    pandas.DataFrame
        One row per group, in order of first appearance: the ``by`` columns, then ``mean``, ``lo``, ``hi`` (NaN for
        a group of fewer than ``min_count`` rows), ``sem`` (NaN for a group of one row) and ``count``.
    """
    by = [by] if isinstance(by, str) else list(by)
    _check_level(level)
    if isinstance(min_count, bool) or not isinstance(min_count, int | np.integer) or min_count < 2:
        raise ValueError(f"min_count must be an int >= 2 (a band needs a standard error), got {min_count!r}")
    clash = [c for c in by if c in ("mean", "lo", "hi", "sem", "count", "sd")]
    if clash:
        raise ValueError(f"group columns {clash} clash with mean_band's output columns (mean, lo, hi, sem, count)")
    missing = [c for c in [*by, value] if c not in table.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the table; its columns: {', '.join(map(str, table.columns))}")
    groups = table.groupby(by, sort=False, dropna=False)[value]
    out = groups.agg(mean="mean", sd="std", count="count").reset_index()
    n = out["count"].to_numpy()
    mean = out["mean"].to_numpy(dtype=float)
    sem = out["sd"].to_numpy() / np.sqrt(np.maximum(n, 1))
    q = np.array([t_quantile((1 + level) / 2, k - 1) if k >= min_count else math.nan for k in n])
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            spread = np.where(mean > 0, np.exp(q * sem / np.where(mean > 0, mean, 1.0)), math.nan)
        out["lo"] = mean / spread
        out["hi"] = mean * spread
    else:
        out["lo"] = mean - q * sem
        out["hi"] = mean + q * sem
    out["sem"] = np.where(n > 1, sem, math.nan)
    return out[[*by, "mean", "lo", "hi", "sem", "count"]]


def wilson_interval(successes, trials, *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion: ``(lo, hi)``, fractions in [0, 1].

    Unlike p -/+ z sqrt(p (1 - p) / n), it never leaves [0, 1] and is not empty at 0 or n successes
    (0 of 50 gives [0, 0.071] at 95%).

    Parameters
    ----------
    successes, trials : array-like of int
        Counts, broadcast together; 0 <= successes <= trials, trials >= 1.
    level : float
        Confidence level, in (0, 1).

    Returns
    -------
    lo, hi : numpy.ndarray
        (p + z^2/(2n) -/+ z sqrt(p(1-p)/n + z^2/(4n^2))) / (1 + z^2/n), with p = successes / n and z the normal
        quantile of (1 + level) / 2.
    """
    _check_level(level)
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    k, n = np.broadcast_arrays(k, n)
    if not (np.all(np.isfinite(k)) and np.all(np.isfinite(n))):
        raise ValueError("successes and trials must be finite")
    if np.any(n < 1) or np.any(n != np.round(n)):
        raise ValueError(f"trials must be positive integers, got {n}")
    if np.any(k < 0) or np.any(k > n) or np.any(k != np.round(k)):
        raise ValueError(f"successes must be integers in [0, trials], got {k} of {n}")
    z = NormalDist().inv_cdf((1 + level) / 2)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    # at p = 0 (or 1) the bound is 0 (or 1) exactly; rounding would leave a 1e-17 residue
    lo = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    hi = np.where(k == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    return lo, hi


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t distribution with ``df`` (integer) degrees of freedom, for p in (0, 1).

    Exact to about 1e-10 (relative): bisection on the closed-form distribution function (Abramowitz and Stegun
    26.7.3-4) for df <= 300, the Cornish-Fisher expansion (26.7.5) above.
    """
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if isinstance(df, bool) or not isinstance(df, int | np.integer) or df < 1:
        raise ValueError(f"df must be a positive int, got {df!r}")
    df = int(df)
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1 - p, df)
    if df > 300:  # the series gets long; the Cornish-Fisher expansion in 1/df is exact to ~1e-13 here
        return _t_quantile_expansion(p, df)
    target = 2 * p - 1  # P(|T| < t)
    if df % 2:
        k = np.arange(1, (df - 3) // 2 + 1)
        coef = np.concatenate([[1.0], np.cumprod(2 * k / (2 * k + 1))])
    else:
        k = np.arange(1, (df - 2) // 2 + 1)
        coef = np.concatenate([[1.0], np.cumprod((2 * k - 1) / (2 * k))])
    powers = np.arange(coef.size)

    def central(theta: float) -> float:
        c2 = math.cos(theta) ** 2
        series = float(coef @ c2**powers)
        if df == 1:
            return 2 * theta / math.pi
        if df % 2:
            return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * series)
        return math.sin(theta) * series

    lo, hi = 0.0, math.pi / 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if central(mid) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return math.sqrt(df) * math.tan((lo + hi) / 2)


def _t_quantile_expansion(p: float, df: int) -> float:
    """Cornish-Fisher expansion of the t quantile around the normal one, to order df**-4 (A and S 26.7.5)."""
    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def _check_level(level) -> None:
    if not isinstance(level, float | int) or not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
