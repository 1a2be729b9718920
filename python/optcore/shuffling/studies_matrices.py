"""``shuffling-matrix-products``: the COLT 2021 open problem ||W_SS|| <= ||W_RS|| <= ||W_GD|| (THEORY.md 4.4).

Random instances A_i = I - eta B_i with B_i = Q diag(U[0, 1]) Q' (Haar Q); W_SS and W_RS by enumerating all n!
permutations, summed in extended precision (numpy.longdouble); each row is one instance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.params import Param
from ..experiments.registry import Experiment, Timing
from .matrix_products import exact_norms, random_instance


def run_matrices(config: dict, seed: int) -> list[dict]:
    """``trials`` random instances of one (n, K, dim, eta): their norms and relative gaps."""
    rows = []
    for child in np.random.SeedSequence(seed).spawn(config["trials"]):
        norms = exact_norms(random_instance(config["n"], config["dim"], config["eta"], seed=child), config["K"])
        norms.pop("precision")
        rows.append(norms)
    return rows


def summarize_matrices(table: pd.DataFrame) -> pd.DataFrame:
    """Violations of each inequality, median and smallest gaps, and the float64 check of the precision."""
    rows = []
    for (n, K, dim, eta), g in table.groupby(["n", "K", "dim", "eta"], sort=True):
        rows.append(
            {
                "n": n,
                "K": K,
                "dim": dim,
                "eta": eta,
                "instances": len(g),
                "violations SS<=RS": int((g["gap_ss_rs"] < 0).sum()),
                "violations RS<=GD": int((g["gap_rs_gd"] < 0).sum()),
                "median (RS-SS)/RS": float(g["gap_ss_rs"].median()),
                "min (RS-SS)/RS": float(g["gap_ss_rs"].min()),
                "median (GD-RS)/GD": float(g["gap_rs_gd"].median()),
                "max float64 error": float(g["float64_error"].max()),
            }
        )
    return pd.DataFrame(rows)


def figure_matrices(table: pd.DataFrame, ax) -> None:
    """The relative gap (||W_RS|| - ||W_SS||)/||W_RS|| of every instance, per n (log scale; all > 0 = no violation)."""
    rng = np.random.default_rng(0)
    for i, (n, g) in enumerate(table.groupby("n", sort=True)):
        gaps = g["gap_ss_rs"].to_numpy()
        ax.scatter(
            i + 0.15 * rng.standard_normal(gaps.size),
            np.abs(gaps),
            s=8,
            alpha=0.6,
            label=f"n = {n} ({int((gaps < 0).sum())} violations)",
        )
    ax.set_yscale("log")
    ax.set_xticks(range(table["n"].nunique()), [f"n = {n}" for n in sorted(set(table["n"]))])
    ax.set_xlabel("instances")
    ax.set_ylabel("(||W_RS|| - ||W_SS||) / ||W_RS||")
    ax.set_title("Single shuffle vs reshuffling: relative norm gaps")


MATRICES = Experiment(
    name="shuffling-matrix-products",
    summary="COLT 2021 open problem: exact ||W_SS|| <= ||W_RS|| <= ||W_GD|| checks on random instances.",
    run=run_matrices,
    params=(
        Param("n", int, (3, 4, 5), "number of matrices (a grid axis; n! products are enumerated)", ge=2, le=8),
        Param("K", int, 2, "epochs", ge=1),
        Param("dim", int, 5, "matrix dimension", ge=1),
        Param("eta", float, 0.1, "(1 - eta) I <= A_i <= I", gt=0, le=1),
        Param("trials", int, 100, "random instances per cell", ge=1),
    ),
    timing=Timing(
        seconds=46.2,
        cpu_seconds=3.0,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 21); serial, no cache",
    ),
    version="1",
    seeds=1,
    figure=figure_matrices,
    summarize=summarize_matrices,
)
