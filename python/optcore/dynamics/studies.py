"""Registered experiment ``dynamics-normalized`` (THEORY.md 5.2, checks a-c).

Bias-free ReLU MLPs on a separable-by-the-net data set (labels sign(x_1 x_2 + 0.3), which no linear model fits),
exponential loss, full-batch GD with several step sizes over the same time span T = steps x eta. Per step size:
the drift of rho_k^2 - rho_j^2 (conserved by gradient flow; O(eta) for GD), the fit rho(t) = a + b log t over the
second half of training and its R^2, and whether the normalized margin min_n y_n f(V; x_n) is non-decreasing late in
training.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.params import Param
from ..experiments.registry import Experiment, Timing
from .normalized import run_normalized_dynamics


def xor_like_data(n: int, d: int, seed: int):
    """Gaussian inputs, labels sign(x_1 x_2 + 0.3)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, np.where(X[:, 0] * X[:, 1] + 0.3 >= 0, 1.0, -1.0)


def validate_dynamics(config: dict) -> None:
    """GD runs round(T / eta) >= 1 steps; the labels read two input coordinates."""
    if round(config["time"] / config["eta"]) < 1:
        raise ValueError(f"time / eta must be >= 1 GD step, got time = {config['time']}, eta = {config['eta']}")
    if config["d"] < 2:
        raise ValueError(f"d must be >= 2 (the labels are sign(x_1 x_2 + 0.3)), got {config['d']}")


def run_dynamics(config: dict, seed: int) -> list[dict]:
    """One step size: GD for time T, the three checks, and rho(t), margin(t) at every record."""
    eta = config["eta"]
    steps = int(round(config["time"] / eta))
    # data and initialization come from `instance`, not from the sweep's seed, so that every step size
    # follows the same gradient flow and the drifts are comparable
    X, y = xor_like_data(config["n"], config["d"], config["instance"])
    dyn = run_normalized_dynamics(
        X,
        y,
        hidden=(config["width"], config["width"]),
        steps=steps,
        step_size=eta,
        runs=1,
        init_scale=config["init_scale"],
        record_every=max(1, steps // 400),
        seed=config["instance"],
    )
    t = dyn.steps.astype(float)
    late = t >= t[-1] / 2
    slope, intercept = np.polyfit(np.log(t[late]), dyn.rho[0, late], 1)
    fit = intercept + slope * np.log(t[late])
    r2 = 1 - np.sum((dyn.rho[0, late] - fit) ** 2) / np.sum((dyn.rho[0, late] - dyn.rho[0, late].mean()) ** 2)
    late_margin = dyn.margin[0, late]
    drift = float(dyn.conservation_drift()[0])
    rows = []
    for k in range(1, t.size):
        rows.append(
            {
                "step": int(t[k]),
                "time_t": float(t[k] * eta),
                "rho": float(dyn.rho[0, k]),
                "normalized_margin": float(dyn.margin[0, k]),
                "train_loss": float(dyn.loss[0, k]),
                "drift": drift,
                "drift_over_eta": drift / eta,
                "rho_log_slope": float(slope),
                "rho_log_r2": float(r2),
                "late_margin_min_increment": float(np.min(np.diff(late_margin))),
            }
        )
    return rows


def summarize_dynamics(table: pd.DataFrame) -> pd.DataFrame:
    """Per step size: conservation drift (and over eta), the rho ~ log t fit, the late margin increments."""
    last = table[table["step"] == table.groupby(["eta", "instance"])["step"].transform("max")]
    cols = [
        "drift",
        "drift_over_eta",
        "rho_log_slope",
        "rho_log_r2",
        "late_margin_min_increment",
        "normalized_margin",
        "train_loss",
    ]
    return last.groupby("eta", sort=True)[cols].mean().reset_index()


def figure_dynamics(table: pd.DataFrame, ax) -> None:
    """rho(t) against GD time on a log axis (a straight line is rho ~ log t), one line per step size, with the
    fitted a + b log t of the smallest step; an inset shows rho_eta(t) - rho(t) of the smallest step, which the main
    axes cannot resolve (the step sizes follow one gradient flow, so their rho(t) coincide to within O(eta))."""
    first = table[(table["replicate"] == table["replicate"].min()) & (table["instance"] == table["instance"].min())]
    etas = sorted(set(first["eta"]))
    ref = first[first["eta"] == etas[0]]
    styles = ["-", "--", "-.", ":"]
    markers = ["o", "s", "^", "D", "v", "P"]
    inset = ax.inset_axes([0.57, 0.1, 0.4, 0.36])  # lower right: the rho(t) curves run from lower left to upper right
    for i, eta in enumerate(etas):
        g = first[first["eta"] == eta]
        drift = g["drift"].iloc[0]
        kw = dict(linestyle=styles[i % len(styles)], marker=markers[i % len(markers)], markersize=4)
        # markers at log-spaced records, staggered per step size so that coinciding curves stay distinguishable
        every = np.unique((np.geomspace(1, len(g) / 1.6, 10) * (1 + 0.6 * i / len(etas))).astype(int)).tolist()
        (line,) = ax.plot(
            g["time_t"], g["rho"], markevery=every, label=f"eta = {eta:g}: drift of rho_k^2 - rho_j^2 {drift:.2g}", **kw
        )
        diff = g["rho"].to_numpy() - np.interp(g["time_t"], ref["time_t"], ref["rho"])
        inset.plot(g["time_t"], diff, color=line.get_color(), markevery=every, **kw)
    late = ref[ref["time_t"] >= ref["time_t"].max() / 2]
    slope, intercept = np.polyfit(np.log(late["time_t"]), late["rho"], 1)
    t = np.geomspace(late["time_t"].min(), late["time_t"].max(), 20)
    ax.plot(
        t,
        intercept + slope * np.log(t),
        color="k",
        linewidth=2.5,
        alpha=0.35,
        label=f"fit a + b log t, second half (eta = {etas[0]:g}): b = {slope:.3g}",
    )
    inset.set_xscale("log")
    inset.set_title(f"rho_eta(t) - rho_eta={etas[0]:g}(t)", fontsize="x-small")
    inset.set_xlabel("t", fontsize="x-small", labelpad=1)
    inset.tick_params(labelsize="x-small")
    ax.set_xscale("log")
    ax.set_xlabel("gradient-flow time t = step x eta")
    ax.set_ylabel("rho = prod_k ||W_k||_F")
    ax.set_title("Bias-free ReLU net, exp loss: rho(t) against log t")


DYNAMICS = Experiment(
    name="dynamics-normalized",
    summary="Bias-free ReLU nets on exp loss: conservation of rho_k^2 - rho_j^2, rho ~ log t, non-decreasing margin.",
    run=run_dynamics,
    params=(
        Param("eta", float, (0.04, 0.02, 0.01, 0.005), "GD step size (a grid axis)", gt=0),
        Param("time", float, 1000.0, "gradient-flow time span T (steps = T / eta)", gt=0),
        Param("n", int, 40, "examples", ge=1),
        Param("d", int, 4, "input dimension", ge=2),
        Param("width", int, 16, "width of both hidden layers", ge=1),
        Param("init_scale", float, 1.0, "He initialization times this", gt=0),
        Param(
            "instance", int, 0, "seed of the data and the initialization (a grid axis for several instances)", ge=0
        ),
    ),
    timing=Timing(
        seconds=55.5,
        cpu_seconds=4.7,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 21); serial, no cache",
    ),
    validate=validate_dynamics,
    version="1",
    seeds=1,
    figure=figure_dynamics,
    summarize=summarize_dynamics,
)
