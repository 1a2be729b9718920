"""Summaries and figures shared by the shuffling studies: mean gaps, fitted log-log slopes, theory exponents."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.plotting import band, power_law_guide
from ..experiments.stats import MIN_BAND_COUNT, SlopeFit, loglog_slope, mean_band


def fit_slope(group: pd.DataFrame, *, x: str, value: str = "gap", x_min=None) -> SlopeFit | None:
    """The log-log slope in ``x`` of the mean of ``value`` over seeds, fitted on ``x >= x_min``: the one fit that
    both the summary table (:func:`slope_rows`) and the figure's legend and fitted line (:func:`draw_rates`) show.

    The slope is that of log(mean over seeds) against log x, with a 95% bootstrap interval over seeds; None when
    fewer than two values of ``x`` remain or a mean is not positive.
    """
    xs = sorted(v for v in set(group[x]) if x_min is None or v >= x_min)  # may leave out pre-asymptotic points
    per_x = [group.loc[group[x] == v, value].to_numpy(dtype=float) for v in xs]
    if len(xs) < 2 or not all(v.size and np.all(v > 0) for v in per_x):
        return None
    seeds = min(v.size for v in per_x)
    y = np.array([v[:seeds] for v in per_x])
    return loglog_slope(xs, y if seeds > 1 else y[:, 0], seed=0)


def slope_rows(
    table: pd.DataFrame, *, x: str, by: list[str], value: str = "gap", theory=None, x_min=None, exact=None
) -> pd.DataFrame:
    """Mean of ``value`` at each ``x`` and the fitted log-log slope in ``x``, per group of ``by``.

    The slope (:func:`fit_slope`) comes with a 95% bootstrap interval over seeds (only ``x >= x_min`` enter the
    fit); ``theory``, if given, maps a group to the predicted exponent shown next to it, and ``exact`` maps a group
    and the fitted ``x`` values to the slope of the exact expectations over them (column ``exact_slope``).
    """
    rows = []
    for key, group in table.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key, strict=True))
        row.update({f"{x}={v}": float(group.loc[group[x] == v, value].mean()) for v in sorted(set(group[x]))})
        fit = fit_slope(group, x=x, value=value, x_min=x_min)
        slope, (lo, hi) = (fit.slope, fit.ci) if fit is not None else (float("nan"), (float("nan"),) * 2)
        row.update({f"slope_{x}": slope, "slope_lo": lo, "slope_hi": hi})
        if theory is not None:
            row["theory"] = theory(dict(zip(by, key, strict=True)))
        if exact is not None:
            fitted = [v for v in sorted(set(group[x])) if x_min is None or v >= x_min]
            row["exact_slope"] = exact(dict(zip(by, key, strict=True)), fitted) if len(fitted) >= 2 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def draw_rates(
    ax,
    table: pd.DataFrame,
    *,
    x: str,
    by: list[str],
    value: str = "gap",
    label=None,
    x_min=None,
    exact=None,
    guide=None,
) -> None:
    """Mean and 95% band over seeds of ``value`` against ``x`` per group, on log-log axes, with the fitted line.

    The legend's slope and the dashed fitted line are :func:`fit_slope`'s (the table's), drawn over the fitted
    range ``x >= x_min``. The band is :func:`~optcore.experiments.mean_band`'s log-scale t-interval, absent below
    three seeds (the legend says so). ``exact(group, xs)``, if given, returns the exact expectations at ``xs`` (an
    array), drawn as open diamonds on a thin line, and the legend adds their slope over the fitted range;
    ``guide(group)``, if given, returns a theory exponent, drawn dotted through the group's first mean and quoted
    in the legend (a string, such as a range, is only quoted; None is neither).
    """
    proxies = {}
    for key, group in table.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        g = dict(zip(by, key, strict=True))
        stats = mean_band(group, x, value, log=True)
        text = label(g) if label else ", ".join(map(str, key))
        xs, mean = stats[x].to_numpy(dtype=float), stats["mean"].to_numpy(dtype=float)
        fit = fit_slope(group, x=x, value=value, x_min=x_min)
        fitted = xs[xs >= x_min] if x_min is not None else xs
        notes = []
        if fit is not None:
            notes.append(f"slope {fit.slope:.2f}" + (f" ({x} >= {x_min:g})" if x_min is not None else ""))
        slope = guide(g) if guide is not None else None
        if slope is not None:
            notes.append(f"theory {slope:g}" if isinstance(slope, int | float) else f"theory {slope}")
        curve = exact(g, xs) if exact is not None else None
        if curve is not None and fitted.size >= 2:
            keep = np.isin(xs, fitted)
            notes.append(f"exact {np.polyfit(np.log(xs[keep]), np.log(curve[keep]), 1)[0]:.2f}")
        seeds = int(stats["count"].min())
        if seeds < MIN_BAND_COUNT:
            notes.append(f"{seeds} seed{'s' if seeds > 1 else ''}: no band")
        line = band(
            ax, xs, mean, stats["lo"], stats["hi"], label=": ".join([text, ", ".join(notes)]), log=True, markersize=5
        )
        color = line.get_color()
        if fit is not None:
            ax.plot(fitted, np.exp(fit.intercept) * fitted**fit.slope, linestyle="--", color=color, linewidth=1)
            proxies["fit"] = dict(linestyle="--", linewidth=1, label="dashed: fitted power law")
        if curve is not None:
            ax.plot(xs, curve, color=color, linewidth=0.8, marker="D", markersize=8, markerfacecolor="none")
            proxies["exact"] = dict(
                linewidth=0.8, marker="D", markersize=8, markerfacecolor="none", label="diamonds: exact expectation"
            )
        if isinstance(slope, int | float) and mean.size and mean[0] > 0:  # a range ("between 0 and -1"): no line
            power_law_guide(ax, xs, slope, through=(xs[0], mean[0]), color=color)
            proxies["guide"] = dict(linestyle=":", linewidth=1.5, label="dotted: theory exponent, through first mean")
    for style in proxies.values():  # one legend entry per kind of line, in grey
        ax.plot([], [], color="0.35", **style)
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
