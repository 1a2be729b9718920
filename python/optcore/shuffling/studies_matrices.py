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
    """Both signed relative gaps of every instance, per n, on a symmetric-log axis: a violation (gap < 0) would
    fall in the shaded half below 0, so no violation cannot be mistaken for one (or the reverse)."""
    rng = np.random.default_rng(0)
    ns = sorted(set(table["n"]))
    gaps = {
        "gap_ss_rs": ("(||W_RS|| - ||W_SS||) / ||W_RS||: SS <= RS", "o"),
        "gap_rs_gd": ("(||W_GD|| - ||W_RS||) / ||W_GD||: RS <= GD", "^"),
    }
    values = table[list(gaps)].to_numpy(dtype=float)
    # the linear range of the axis: below the smallest |gap| and above the float64 resolution of the norms
    smallest = np.min(np.abs(values[values != 0])) if np.any(values != 0) else 1e-12
    resolution = float(table["float64_error"].max())
    linthresh = 10.0 ** np.floor(np.log10(max(min(smallest, 1e-3) / 10, resolution, 1e-300)))
    for column, (label, marker) in gaps.items():
        violations = int((table[column] < 0).sum())
        first = True
        for i, n in enumerate(ns):
            g = table.loc[table["n"] == n, column].to_numpy(dtype=float)
            shift = -0.15 if column == "gap_ss_rs" else 0.15
            ax.scatter(
                i + shift + 0.05 * rng.standard_normal(g.size),
                g,
                s=10,
                alpha=0.6,
                marker=marker,
                color="C0" if column == "gap_ss_rs" else "C1",
                label=f"{label} ({violations} violations of {len(table)})" if first else None,
            )
            first = False
    ax.set_yscale("symlog", linthresh=linthresh)
    top = max(float(np.max(np.abs(values))) * 3, 10 * linthresh)
    ax.set_ylim(-top, top)
    ax.axhspan(-top, 0.0, color="tab:red", alpha=0.08, linewidth=0, label="gap < 0: a violation")
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    ax.axhspan(-resolution, resolution, color="0.5", alpha=0.3, linewidth=0, label=f"float64 error <= {resolution:.1e}")
    ax.set_xticks(range(len(ns)), [f"n = {n}" for n in ns])
    ax.set_xlim(-0.6, len(ns) - 0.4)
    K, dim, eta = table["K"].iloc[0], table["dim"].iloc[0], table["eta"].iloc[0]
    ax.set_xlabel(f"random instances per n (K = {K}, dim = {dim}, eta = {eta:g})")
    ax.set_ylabel(f"signed relative norm gap (symlog, linear below {linthresh:.0e})")
    ax.set_title("COLT 2021 conjecture ||W_SS|| <= ||W_RS|| <= ||W_GD||: signed gaps", fontsize="medium")


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
