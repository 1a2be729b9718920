"""``shuffling-grab``: GraB herding orders against RR and SS on least squares (THEORY.md section 6)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.params import Param
from ..experiments.registry import Experiment, Timing
from ..orders import ALIASES
from ..problems import LeastSquares
from ._tables import draw_rates, slope_rows
from .grab import run_grab
from .rates import final_gap_stats

ORDERS = ("grab", "random_reshuffling", "single_shuffle")


def run_grab_cell(config: dict, seed: int) -> dict:
    """One (order, K) cell on a fixed random least-squares instance, step c log(nK)/(mu n K) capped at 1/L."""
    problem = LeastSquares.random(config["n"], config["dim"], seed=config["instance"], noise=1.0)
    K = config["K"]
    eta = config["c"] * np.log(problem.n * K) / (problem.mu * problem.n * K)
    eta = min(eta, 1.0 / problem.L)
    if config["order"] == "grab":
        out = run_grab(problem, epochs=K, step_size=eta, runs=config["runs"], seed=seed)
        final = out["gap"][:, -1]
        return {
            "gap": float(final.mean()),
            "gap_sem": float(final.std(ddof=1) / np.sqrt(final.size)),
            "seconds": float("nan"),
        }
    return final_gap_stats(
        problem,
        order=config["order"],
        epochs=K,
        step_size=eta,
        x0=np.zeros(problem.dim),
        runs=config["runs"],
        seed=seed,
    )


def summarize_grab(table: pd.DataFrame) -> pd.DataFrame:
    """Mean gap per K and the K-slope of each order."""
    return slope_rows(table, x="K", by=["order"])


def figure_grab(table: pd.DataFrame, ax) -> None:
    """Mean final gap against K: GraB, RR, SS (no band with fewer than three seeds; the legend says so)."""
    draw_rates(ax, table, x="K", by=["order"])
    ax.set_xlabel("epochs K")
    ax.set_ylabel("mean final gap E[F(x_K) - F*]")
    ax.set_title(f"GraB herding vs RR vs SS, least squares (n = {table['n'].iloc[0]}, d = {table['dim'].iloc[0]})")


GRAB = Experiment(
    name="shuffling-grab",
    summary="GraB (online gradient balancing) orders vs RR and SS on least squares: final gaps and K-slopes.",
    run=run_grab_cell,
    params=(
        Param("order", str, ORDERS, "order (a grid axis)", choices=ORDERS, aliases=ALIASES),
        Param("K", int, (4, 8, 16, 32), "epochs (a grid axis)", ge=1),
        Param("n", int, 256, "examples", ge=2),
        Param("dim", int, 10, "features", ge=1),
        Param("instance", int, 0, "seed of the least-squares instance", ge=0),
        Param("runs", int, 16, "SGD runs per cell", ge=2),
        Param("c", float, 2.0, "step c log(nK)/(mu n K), capped at 1/L", gt=0),
    ),
    timing=Timing(
        seconds=61.4,
        cpu_seconds=4.0,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 21); serial, no cache",
    ),
    version="1",
    seeds=2,
    figure=figure_grab,
    summarize=summarize_grab,
)
