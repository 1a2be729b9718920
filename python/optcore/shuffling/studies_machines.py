"""``shuffling-machines``: minibatch RR, local RR and SyncShuf with M machines (Yun, Rajput, Sra; THEORY.md 4.3).

On the lower-bound function f_i(x) = (L 1[x<=0] + mu 1[x>0]) x^2/2 + z_i nu x, the same on every machine
(homogeneous, lambda = 0), with each theorem's step size. Expected at large K (THEORY.md 4.7 (ii) and T10):
minibatch RR ~ 1/(M N K^2) (Theorem 1), local RR ~ 1/(M N K^2) + H/(N^2 K^2) (Theorem 2, H = local steps between
averages), SyncShuf ~ 1/(M^2 N K^2) (Theorems 6, 7; for local SyncShuf the M-free H/(N^2 K^2) term stays).
"""

from __future__ import annotations

import pandas as pd

from ..experiments.params import Param
from ..experiments.registry import Experiment, Timing
from . import instances
from ._tables import draw_rates, slope_rows, slopes_along
from .rates import final_gap_stats

ALGORITHMS = ("minibatch_rr", "local_rr", "minibatch_syncshuf", "local_syncshuf")
#: exponents of K and of M in the leading term (local: the M-free B/(N^2 K^2) term takes over as M grows)
THEORY = {
    ("minibatch_rr", "K"): -2.0,
    ("minibatch_rr", "M"): -1.0,
    ("local_rr", "K"): -2.0,
    ("local_rr", "M"): "between 0 and -1",
    ("minibatch_syncshuf", "K"): -2.0,
    ("minibatch_syncshuf", "M"): -2.0,
    ("local_syncshuf", "K"): -2.0,
    ("local_syncshuf", "M"): "between 0 and -2",
}


#: exponents in the local steps between averages H (local algorithms) and the batch B (minibatch algorithms) at
#: large M, where the M-free H/(N^2 K^2) term of Theorems 2 and 7 dominates; minibatch rates do not depend on B
#: once the step is B log(.)/(mu N K) (Theorem 1: the rate in rounds improves, the rate in epochs does not)
AVERAGING_THEORY = {
    ("local_rr", "H"): 1.0,
    ("local_syncshuf", "H"): 1.0,
    ("minibatch_rr", "H"): 0.0,
    ("minibatch_syncshuf", "H"): 0.0,
    ("local_rr", "B"): 0.0,
    ("local_syncshuf", "B"): 0.0,
    ("minibatch_rr", "B"): 0.0,
    ("minibatch_syncshuf", "B"): 0.0,
}


def _machines_instance(config: dict):
    """The cell's mode, SyncShuf flag and (problem, x0, step size), with the checks of every builder."""
    algorithm, M, K, N = config["algorithm"], config["M"], config["K"], config["N"]
    mode = "local" if algorithm.startswith("local") else "minibatch"
    syncshuf = algorithm.endswith("syncshuf")
    if syncshuf and N % M:
        raise ValueError(f"SyncShuf needs M | N, got M = {M}, N = {N}")
    if mode == "minibatch" and config["B"] > N:
        raise ValueError(f"B must be <= N = {N} components per machine, got {config['B']}")
    built = instances.lower_bound_machines(
        N, K, workers=M, mode=mode, syncshuf=syncshuf, batch_size=config["B"], mu=config["mu"]
    )
    return mode, syncshuf, built


def validate_machines(config: dict) -> None:
    """Every check of a cell's setup (M | N for SyncShuf, B <= N, N even, mu <= L), before any cell runs."""
    _machines_instance(config)


def run_machines(config: dict, seed: int) -> dict:
    """One (algorithm, M, K) cell."""
    M, K = config["M"], config["K"]
    mode, syncshuf, (problem, x0, eta) = _machines_instance(config)
    if mode == "local":  # Theorems 2 and 7: one component per local step, averages every H local steps
        engine = dict(workers=M, mode=mode, sync_every=config["H"])
    else:
        engine = dict(workers=M, mode=mode, batch_size=config["B"])
    return final_gap_stats(
        problem,
        order="syncshuf" if syncshuf else "random_reshuffling",
        epochs=K,
        step_size=eta,
        x0=x0,
        runs=config["runs"],
        seed=seed,
        **engine,
    )


def summarize_machines(table: pd.DataFrame) -> pd.DataFrame:
    """K-slopes at the middle M and M-slopes at the largest K, per algorithm, next to the theory.

    With a grid over H (or B), also the slope in it at the largest K and M.
    """
    Ms = sorted(set(table["M"]))
    one_H = _one_averaging(table)
    fits = [("K", "M", Ms[len(Ms) // 2]), ("M", "K", table["K"].max())]
    out = slopes_along(one_H, group="algorithm", fits=fits, theory=THEORY)
    for axis in ("H", "B"):
        if table[axis].nunique() > 1:
            other = "B" if axis == "H" else "H"
            sub = table[
                (table["K"] == table["K"].max()) & (table["M"] == Ms[-1]) & (table[other] == table[other].min())
            ]
            rows = slope_rows(
                sub, x=axis, by=["algorithm"], theory=lambda g, a=axis: AVERAGING_THEORY[(g["algorithm"], a)]
            )
            rows = rows.rename(columns={f"slope_{axis}": "slope"}).assign(along=axis, M=Ms[-1], K=table["K"].max())
            out = pd.concat(
                [out, rows[["along", "algorithm", "M", "K", "slope", "slope_lo", "slope_hi", "theory"]]],
                ignore_index=True,
            )
    return out


def _one_averaging(table: pd.DataFrame) -> pd.DataFrame:
    """The rows at the smallest H and B: the slopes in K and M (table and figure) are fitted on these."""
    return table[(table["H"] == table["H"].min()) & (table["B"] == table["B"].min())]


def figure_machines(table: pd.DataFrame, ax) -> None:
    """Mean final gap against the number of machines M at the largest K, per algorithm (the table's "along M"
    rows), with the theory's exponent in M drawn through each algorithm's first point."""
    one_H = _one_averaging(table)
    large_K = one_H[one_H["K"] == one_H["K"].max()]
    draw_rates(ax, large_K, x="M", by=["algorithm"], guide=lambda g: THEORY[(g["algorithm"], "M")])
    ax.set_xlabel("machines M")
    ax.set_ylabel("mean final gap E[F(x_K) - F*]")
    ax.set_title(
        f"Minibatch vs local RR vs SyncShuf (N = {table['N'].iloc[0]}, K = {large_K['K'].iloc[0]}, "
        f"H = {large_K['H'].iloc[0]}, B = {large_K['B'].iloc[0]})",
        fontsize="medium",
    )


MACHINES = Experiment(
    name="shuffling-machines",
    summary="Yun-Rajput-Sra: minibatch RR vs local RR vs SyncShuf on M machines, slopes in K and scaling in M.",
    run=run_machines,
    params=(
        Param("algorithm", str, ALGORITHMS, "algorithm (a grid axis)", choices=ALGORITHMS),
        Param("M", int, (1, 2, 4, 8, 16), "machines (a grid axis; SyncShuf needs M | N)", ge=1),
        Param("K", int, (64, 128, 256, 512), "epochs (a grid axis)", ge=1),
        Param("N", int, 32, "components per machine (even)", ge=2),
        Param("B", int, 1, "minibatch algorithms: batch per machine and step", ge=1),
        Param("H", int, 8, "local algorithms: local steps between averages (the theorems' B)", ge=1),
        Param("mu", float, 0.1, "strong convexity (L = 1, nu = 1)", gt=0, le=1),
        Param("runs", int, 100, "SGD runs per cell", ge=1),
    ),
    timing=Timing(
        seconds=118.5,
        cpu_seconds=13.2,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 20); serial, no cache",
    ),
    validate=validate_machines,
    version="1",
    seeds=3,
    figure=figure_machines,
    summarize=summarize_machines,
)
