"""Summaries and figures shared by the shuffling studies: mean gaps, fitted log-log slopes, theory exponents."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.plotting import band
from ..experiments.stats import loglog_slope, mean_band


def slope_rows(
    table: pd.DataFrame, *, x: str, by: list[str], value: str = "gap", theory=None, x_min=None
) -> pd.DataFrame:
    """Mean of ``value`` at each ``x`` and the fitted log-log slope in ``x``, per group of ``by``.

    The slope comes with a 95% bootstrap interval over seeds (only ``x >= x_min`` enter the fit), and ``theory``,
    if given, maps a group to the predicted exponent shown next to it.
    """
    rows = []
    for key, group in table.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        all_xs = sorted(set(group[x]))
        row = dict(zip(by, key, strict=True))
        row.update({f"{x}={v}": float(group.loc[group[x] == v, value].mean()) for v in all_xs})
        xs = [v for v in all_xs if x_min is None or v >= x_min]  # the fit may leave out the pre-asymptotic points
        per_x = [group.loc[group[x] == v, value].to_numpy(dtype=float) for v in xs]
        slope = lo = hi = float("nan")
        if len(xs) >= 2 and all(v.size and np.all(v > 0) for v in per_x):
            seeds = min(v.size for v in per_x)
            y = np.array([v[:seeds] for v in per_x])
            fit = loglog_slope(xs, y if seeds > 1 else y[:, 0], seed=0)
            slope, (lo, hi) = fit.slope, fit.ci
        row.update({f"slope_{x}": slope, "slope_lo": lo, "slope_hi": hi})
        if theory is not None:
            row["theory"] = theory(dict(zip(by, key, strict=True)))
        rows.append(row)
    return pd.DataFrame(rows)


def draw_rates(ax, table: pd.DataFrame, *, x: str, by: list[str], value: str = "gap", label=None) -> None:
    """Mean +- 95% band over seeds of ``value`` against ``x`` per group, on log-log axes, with the fitted line."""
    for key, group in table.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        stats = mean_band(group, x, value)
        text = label(dict(zip(by, key, strict=True))) if label else ", ".join(map(str, key))
        xs, mean = stats[x].to_numpy(dtype=float), stats["mean"].to_numpy(dtype=float)
        ok = mean > 0
        if ok.sum() >= 2:
            slope, intercept = np.polyfit(np.log(xs[ok]), np.log(mean[ok]), 1)
            text = f"{text}: slope {slope:.2f}"
        line = band(ax, xs, mean, stats["lo"], stats["hi"], label=text, log=True)
        if ok.sum() >= 2:
            ax.plot(xs, np.exp(intercept) * xs**slope, linestyle="--", color=line.get_color(), linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")


def slopes_along(table: pd.DataFrame, *, group: str, fits, theory: dict) -> pd.DataFrame:
    """Slopes along each axis of a two-axis grid, one row per (fit, group).

    For each ``(x, fixed, value)`` in ``fits``: the slope in ``x`` of every ``group`` on the rows where
    ``fixed == value``, next to ``theory[(group value, x)]``.
    """
    axes = list(dict.fromkeys(a for x, fixed, _ in fits for a in (fixed, x)))
    parts = []
    for x, fixed, value in fits:
        rows = slope_rows(
            table[table[fixed] == value], x=x, by=[group, fixed], theory=lambda g, x=x: theory[(g[group], x)]
        )
        rows = rows.rename(columns={f"slope_{x}": "slope"}).assign(along=x, **{x: "all"})
        parts.append(rows[["along", group, *axes, "slope", "slope_lo", "slope_hi", "theory"]])
    return pd.concat(parts, ignore_index=True)
