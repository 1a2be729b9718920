"""Rate studies on one machine (THEORY.md 4.1, 4.6, 4.7 and section 6): each a registered experiment.

* ``shuffling-rates`` -- 4.7's 1-D instance: with replacement ~ 1/(nK), RR ~ 1/(nK^3), SS ~ 1/(nK^2),
  IG ~ 1/K^2 (up to log factors), slopes in K.
* ``shuffling-noncommuting`` -- quadratics with non-commuting Hessians, where RR's 1/(n^2 K^2) term shows:
  slopes in n at fixed K and in K at fixed n.
* ``shuffling-separations`` -- Safran and Shamir's 1-D lower-bound family: the gaps between RR, SS and
  with-replacement as functions of n and K.
* ``shuffling-flipflop`` -- FlipFlop on top of RR, SS and IG against the plain orders.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.params import Param
from ..orders import ALIASES
from ..experiments.registry import Experiment, Timing
from . import instances
from ._tables import draw_rates, slope_rows, slopes_along
from .exact import exact_slope_1d, expected_gap_1d
from .rates import final_gap_stats

BASIC = ("with_replacement", "random_reshuffling", "single_shuffle", "incremental")
#: the exponent of K up to log factors (THEORY.md 4.1 / 4.7)
K_EXPONENT = {"with_replacement": -1.0, "random_reshuffling": -3.0, "single_shuffle": -2.0, "incremental": -2.0}
#: the K-slopes are fitted on K >= 16 (THEORY.md 4.7: K = 8 is pre-asymptotic), in the table and the figure alike
K_MIN = 16


def _instance_groups(table: pd.DataFrame) -> list[str]:
    """Group by order, and by n and c when the sweep varies them (each (n, c) is its own instance and step)."""
    return ["order"] + [col for col in ("n", "c") if table[col].nunique() > 1]


def _instance(table: pd.DataFrame, group: dict) -> tuple[int, float]:
    """The (n, c) of a group: its own when n or c is a grid axis, otherwise the sweep's single value."""
    return int(group.get("n", table["n"].iloc[0])), float(group.get("c", table["c"].iloc[0]))


def _exact_slope(table: pd.DataFrame):
    """Slope over the fitted K of the exact expectations (THEORY.md 4.7) for a group's order, n and c."""

    def slope(group: dict, Ks) -> float:
        n, c = _instance(table, group)
        return exact_slope_1d(group["order"], n, Ks, c=c)

    return slope


def _exact_curve(table: pd.DataFrame):
    """The exact expectations E[F(x_K) - F*] at the given K for a group's order, n and c."""

    def curve(group: dict, Ks):
        n, c = _instance(table, group)
        return np.array([expected_gap_1d(group["order"], n, int(K), c=c) for K in Ks])

    return curve


# --- shuffling-rates ----------------------------------------------------------------------------------------------
def validate_reference_1d(config: dict) -> None:
    """Build THEORY.md 4.7's instance (cheap): the instance's own checks (n even, ...) before any cell runs."""
    instances.reference_1d(config["n"], config["K"], c=config["c"])


def run_rates(config: dict, seed: int) -> dict:
    """One (order, K) cell on THEORY.md 4.7's instance."""
    problem, x0, eta = instances.reference_1d(config["n"], config["K"], c=config["c"])
    return final_gap_stats(
        problem, order=config["order"], epochs=config["K"], step_size=eta, x0=x0, runs=config["runs"], seed=seed
    )


def summarize_rates(table: pd.DataFrame) -> pd.DataFrame:
    """Mean gap per K, the K-slope (K >= 16) with its interval, the theory's exponent, and the slope of the exact
    expectations (THEORY.md 4.7) over the same K for the n and c actually run."""
    return slope_rows(
        table,
        x="K",
        by=_instance_groups(table),
        x_min=K_MIN,
        theory=lambda g: K_EXPONENT[g["order"]],
        exact=_exact_slope(table),
    )


def figure_rates(table: pd.DataFrame, ax) -> None:
    """Mean final gap against K per order, log-log, with the table's fitted lines and the exact expectations."""
    draw_rates(ax, table, x="K", by=_instance_groups(table), x_min=K_MIN, exact=_exact_curve(table))
    ax.set_xlabel("epochs K")
    ax.set_ylabel("mean final gap E[F(x_K) - F*]")
    ax.set_title(f"Shuffled vs sampled SGD, THEORY 4.7 instance ({_instance_text(table)})", fontsize="medium")


def _instance_text(table: pd.DataFrame) -> str:
    return ", ".join(f"{col} = {', '.join(f'{v:g}' for v in sorted(set(table[col])))}" for col in ("n", "c"))


RATES = Experiment(
    name="shuffling-rates",
    summary="THEORY 4.7: mean final gap vs epochs K for with-replacement, RR, SS and IG, with fitted slopes.",
    run=run_rates,
    params=(
        Param("n", int, 64, "number of components (even)", ge=2),
        Param("K", int, (8, 16, 32, 64, 128), "epochs (a grid axis)", ge=1),
        Param("order", str, BASIC, "SGD order (a grid axis)", choices=BASIC, aliases=ALIASES),
        Param("runs", int, 500, "SGD runs per cell", ge=1),
        Param("c", float, 3.0, "step size c log(nK)/(nK)", gt=0),
    ),
    timing=Timing(
        seconds=23.8,
        cpu_seconds=3.3,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 16); serial, no cache",
    ),
    validate=validate_reference_1d,
    version="1",
    seeds=4,
    figure=figure_rates,
    summarize=summarize_rates,
)


# --- shuffling-noncommuting ---------------------------------------------------------------------------------------
NONCOMMUTING_ORDERS = ("random_reshuffling", "single_shuffle", "with_replacement")
#: exponents for K > n: RR 1/(n^2 K^2), SS 1/(n K^2), with replacement 1/(n K)
NONCOMMUTING_THEORY = {
    ("random_reshuffling", "K"): -2.0,
    ("random_reshuffling", "n"): -2.0,
    ("single_shuffle", "K"): -2.0,
    ("single_shuffle", "n"): -1.0,
    ("with_replacement", "K"): -1.0,
    ("with_replacement", "n"): -1.0,
}


def run_noncommuting(config: dict, seed: int) -> dict:
    """One (order, n, K) cell on the non-commuting quadratic instance (the instance itself is fixed)."""
    problem, x0, eta = instances.noncommuting_quadratic(config["n"], config["K"], dim=config["dim"], c=config["c"])
    return final_gap_stats(
        problem, order=config["order"], epochs=config["K"], step_size=eta, x0=x0, runs=config["runs"], seed=seed
    )


def summarize_noncommuting(table: pd.DataFrame) -> pd.DataFrame:
    """Slopes in K at the smallest n and in n at the largest K, per order, next to the exponents for K > n."""
    fits = [("K", "n", table["n"].min()), ("n", "K", table["K"].max())]
    return slopes_along(table, group="order", fits=fits, theory=NONCOMMUTING_THEORY)


def figure_noncommuting(table: pd.DataFrame, ax) -> None:
    """Mean final gap against n at the largest K, per order (RR's 1/n^2 against SS's 1/n), with the theory's
    exponents in n drawn through each order's first point (the table's "along n" rows)."""
    large_K = table[table["K"] == table["K"].max()]
    draw_rates(ax, large_K, x="n", by=["order"], guide=lambda g: NONCOMMUTING_THEORY[(g["order"], "n")])
    ax.set_xlabel("components n")
    ax.set_ylabel("mean final gap E[F(x_K) - F*]")
    ax.set_title(f"Non-commuting quadratics, K = {large_K['K'].iloc[0]}: RR's 1/(n^2 K^2) term")


NONCOMMUTING = Experiment(
    name="shuffling-noncommuting",
    summary="Quadratics with non-commuting Hessians: RR's 1/(n^2 K^2) term, slopes in n and K against SS and SGD.",
    run=run_noncommuting,
    params=(
        Param("n", int, (4, 8, 16, 32), "number of components (a grid axis)", ge=2),
        Param("K", int, (64, 128, 256, 512), "epochs (a grid axis)", ge=1),
        Param(
            "order", str, NONCOMMUTING_ORDERS, "SGD order (a grid axis)", choices=NONCOMMUTING_ORDERS, aliases=ALIASES
        ),
        Param("runs", int, 100, "SGD runs per cell", ge=1),
        Param("dim", int, 4, "dimension of the quadratics", ge=1),
        Param("c", float, 2.0, "step size c log(nK^2)/(mu n K)", gt=0),
    ),
    timing=Timing(
        seconds=35.7,
        cpu_seconds=4.4,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 17); serial, no cache",
    ),
    version="1",
    seeds=3,
    figure=figure_noncommuting,
    summarize=summarize_noncommuting,
)


# --- shuffling-separations ----------------------------------------------------------------------------------------
SEPARATION_ORDERS = ("random_reshuffling", "single_shuffle", "with_replacement")


def summarize_separations(table: pd.DataFrame) -> pd.DataFrame:
    """Per (n, K): mean gaps and the ratios SS/RR and SGD/SS (Safran-Shamir: about min(n, K) and K), next to the
    same ratios of the exact expectations on this instance (THEORY.md 4.7's family, at the c actually run)."""
    means = table.groupby(["n", "K", "order"], sort=True)["gap"].mean().unstack("order")
    out = pd.DataFrame(
        {
            "RR": means["random_reshuffling"],
            "SS": means["single_shuffle"],
            "SGD": means["with_replacement"],
        }
    )
    out["SS/RR"] = out["SS"] / out["RR"]
    out["SGD/SS"] = out["SGD"] / out["SS"]
    out = out.reset_index()
    (c,) = set(table["c"])  # one step constant per sweep (c is not a grid axis of this study's figure)
    exact = {
        o: np.array([expected_gap_1d(o, int(n), int(K), c=float(c)) for n, K in zip(out["n"], out["K"], strict=True)])
        for o in SEPARATION_ORDERS
    }
    out["exact SS/RR"] = exact["single_shuffle"] / exact["random_reshuffling"]
    out["exact SGD/SS"] = exact["with_replacement"] / exact["single_shuffle"]
    return out


def figure_separations(table: pd.DataFrame, ax) -> None:
    """The ratios SS/RR and SGD/SS against K, one colour per n, with the exact expectations' ratios (diamonds)."""
    summary = summarize_separations(table)
    ax.figure.set_size_inches(7.2, 5.6)
    for n, group in summary.groupby("n"):
        (line,) = ax.plot(group["K"], group["SS/RR"], marker="o", label=f"SS / RR, n = {n}")
        color = line.get_color()
        ax.plot(group["K"], group["SGD/SS"], marker="s", linestyle=":", color=color, label=f"SGD / SS, n = {n}")
        for col in ("exact SS/RR", "exact SGD/SS"):
            ax.plot(group["K"], group[col], "D", markersize=9, markerfacecolor="none", color=color)
    ax.plot([], [], "D", markersize=9, markerfacecolor="none", color="0.35", label="diamonds: exact expectations")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("epochs K")
    ax.set_ylabel("ratio of mean final gaps")
    ax.set_title(f"Separations on the Safran-Shamir 1-D family (c = {table['c'].iloc[0]:g})")


SEPARATIONS = Experiment(
    name="shuffling-separations",
    summary="Safran-Shamir 1-D lower-bound family: ratios SS/RR and SGD/SS of final gaps over a grid of n and K.",
    run=run_rates,
    params=(
        Param("n", int, (16, 64, 256), "number of components (a grid axis; even)", ge=2),
        Param("K", int, (8, 16, 32, 64, 128), "epochs (a grid axis)", ge=1),
        Param("order", str, SEPARATION_ORDERS, "SGD order (a grid axis)", choices=SEPARATION_ORDERS, aliases=ALIASES),
        Param("runs", int, 400, "SGD runs per cell", ge=1),
        Param("c", float, 3.0, "step size c log(nK)/(nK)", gt=0),
    ),
    timing=Timing(
        seconds=42.7,
        cpu_seconds=4.2,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 18); serial, no cache",
    ),
    validate=validate_reference_1d,
    version="1",
    seeds=3,
    figure=figure_separations,
    summarize=summarize_separations,
)


# --- shuffling-flipflop -------------------------------------------------------------------------------------------
FLIPFLOP_ORDERS = ("random_reshuffling", "flipflop_rr", "single_shuffle", "flipflop_ss", "incremental", "flipflop_ig")


def summarize_flipflop(table: pd.DataFrame) -> pd.DataFrame:
    """K-slopes (K >= 16) with and without FlipFlop (THEORY.md 6: FlipFlop should improve the exponent on
    quadratics), next to the slope of the exact expectations on 4.7's instance over the same K."""
    return slope_rows(table, x="K", by=_instance_groups(table), x_min=K_MIN, exact=_exact_slope(table))


def figure_flipflop(table: pd.DataFrame, ax) -> None:
    """Mean final gap against K for each order and its FlipFlop version, with the exact expectations."""
    ax.figure.set_size_inches(7.2, 5.6)
    draw_rates(ax, table, x="K", by=_instance_groups(table), x_min=K_MIN, exact=_exact_curve(table))
    ax.set_xlabel("epochs K")
    ax.set_ylabel("mean final gap E[F(x_K) - F*]")
    ax.set_title(f"FlipFlop vs plain orders, THEORY 4.7 instance ({_instance_text(table)})", fontsize="medium")


FLIPFLOP = Experiment(
    name="shuffling-flipflop",
    summary="FlipFlop (reverse every other epoch) on top of RR, SS and IG against the plain orders: K-slopes.",
    run=run_rates,
    params=(
        Param("n", int, 64, "number of components (even)", ge=2),
        Param("K", int, (8, 16, 32, 64, 128), "epochs (a grid axis)", ge=1),
        Param("order", str, FLIPFLOP_ORDERS, "SGD order (a grid axis)", choices=FLIPFLOP_ORDERS, aliases=ALIASES),
        Param("runs", int, 500, "SGD runs per cell", ge=1),
        Param("c", float, 3.0, "step size c log(nK)/(nK)", gt=0),
    ),
    timing=Timing(
        seconds=27.8,
        cpu_seconds=4.2,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 16); serial, no cache",
    ),
    validate=validate_reference_1d,
    version="1",
    seeds=4,
    figure=figure_flipflop,
    summarize=summarize_flipflop,
)
