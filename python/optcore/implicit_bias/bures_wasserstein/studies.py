"""Registered experiment ``bw-deep-linear`` (RELATED.md 2.5, E-bw-1 and E-bw-2 at laptop scale).

A deep linear generator with widths (w, w, ..., w, d) -- latent dimension and hidden width w, so every depth has
the same rank bound k = w < d -- fits a "zipf" target N(0, Sigma_0) in dimension d by full-batch GD on the
Bures-Wasserstein loss L_tau, for each (depth, tau) cell, several initializations in one C++ call. Recorded along
the way: the gap |L - L*| to the closed-form optimum over rank <= k, the balance drift and the gradient norm. At
the end point: the error of the top-k eigenvalues of W W^T against lambda_i - tau, and the parameter-space Hessian
(dense, central differences of the exact gradient) of the BW loss there, next to the Hessian of the square loss
|W W^T - Sigma_0|^2 at the end point of GD on the square loss from the same initialization. The Hessians are also
taken at the rank-(k-1) critical point Sigma_{1..k-1} (a saddle), where Brechet et al. say the BW Hessian "can
blow up" as tau -> 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...experiments.params import Param
from ...experiments.registry import Experiment, Timing
from ..gd import log_schedule
from .critical import balanced_layers, critical_point, factor, optimal_loss
from .gd import run_generator_gd
from .generator import LinearGenerator
from .hessian import hessian
from .init import INITS, initialize
from .target import Target

#: eigenvalues within this fraction of the largest count as zero in the Hessian summaries (symmetry directions)
ZERO_RTOL = 1e-7


def hessian_summary(H: np.ndarray, prefix: str) -> dict:
    """Largest eigenvalue, smallest eigenvalue above ZERO_RTOL lambda_max, their ratio, and the most negative one."""
    ev = np.linalg.eigvalsh(H)
    top = float(ev[-1])
    pos = ev[ev > ZERO_RTOL * abs(top)]
    low = float(pos[0]) if pos.size else float("nan")
    return {
        f"{prefix}_max": top,
        f"{prefix}_min_pos": low,
        f"{prefix}_cond": top / low if pos.size else float("nan"),
        f"{prefix}_min": float(ev[0]),
    }


def validate_bw(config: dict) -> None:
    """The rank bound w must be below d (a rank-bounded problem) and the eigenvalue lambda_w above tau."""
    if config["width"] >= config["d"]:
        raise ValueError(f"width must be < d (the rank bound k = width), got width {config['width']}, d {config['d']}")


def run_bw(config: dict, seed: int) -> list[dict]:
    """One (depth, tau) cell: BW GD and square-loss GD from the same initializations; rows per recorded step."""
    N, tau, d, w = config["depth"], config["tau"], config["d"], config["width"]
    target = Target.zipf(d, seed=config["instance"])
    gen = LinearGenerator((w,) * N + (d,))
    k = gen.rank_bound
    steps = config["steps"]
    theta0 = initialize(gen, config["init"], target=target, tau=tau, runs=config["runs"], seed=seed,
                        scale=config["scale"])
    rec = log_schedule(steps, 40)
    res = run_generator_gd(gen, target, theta0, steps=steps, step_size=config["lr"], tau=tau, record_at=rec)
    sq = run_generator_gd(gen, target, theta0, steps=steps, step_size=config["lr_square"], loss="square",
                          record_at=[steps])
    star = optimal_loss(target, k, tau=tau)
    gap = np.abs(res.loss - star)
    rows = [
        {
            "step": int(s),
            "time": float(s * config["lr"]),
            "gap": float(np.median(gap[:, i])),
            "gap_max": float(np.max(gap[:, i])),
            "drift": float(np.median(res.drift[:, i])),
            "grad_norm": float(np.median(res.grad_norm[:, i])),
        }
        for i, s in enumerate(rec)
    ]
    # the end point: eigenvalues and Hessians (first run; the others agree to the printed digits when converged)
    eig = res.eigenvalues()[:, -1, :k]
    final = rows[-1]
    final["eig_error"] = float(np.max(np.abs(eig - (target.eigenvalues[:k] - tau))))
    final["diverged"] = int(np.sum(res.diverged >= 0) + np.sum(sq.diverged >= 0))
    Wsq = np.linalg.eigvalsh(sq.covariance[0, -1])[::-1][:k]
    final["square_eig_error"] = float(np.max(np.abs(Wsq - target.eigenvalues[:k])))
    final.update(hessian_summary(hessian(gen, target, res.theta[0], tau=tau), "bw"))
    final.update(hessian_summary(hessian(gen, target, sq.theta[0], loss="square"), "square"))
    # a rank-(k-1) critical point (a saddle): BW (at this tau) vs square loss (at tau = 0 its point is Sigma_S)
    saddle_bw = critical_point(target, range(k - 1), tau=tau)
    saddle_sq = critical_point(target, range(k - 1))
    th_bw = balanced_layers(gen, factor(saddle_bw.covariance, gen.dz))
    th_sq = balanced_layers(gen, factor(saddle_sq.covariance, gen.dz))
    final.update(hessian_summary(hessian(gen, target, th_bw, tau=tau), "saddle_bw"))
    final.update(hessian_summary(hessian(gen, target, th_sq, loss="square"), "saddle_square"))
    return rows


FINAL_COLUMNS = [
    "gap",
    "eig_error",
    "drift",
    "square_eig_error",
    "bw_max",
    "bw_cond",
    "square_max",
    "square_cond",
    "saddle_bw_max",
    "saddle_bw_min",
    "saddle_square_max",
    "saddle_square_min",
    "diverged",
]


def summarize_bw(table: pd.DataFrame) -> pd.DataFrame:
    """The end point of each (depth, tau): mean over seeds of the final gap, eigenvalue error, drift, Hessians."""
    last = table[table["step"] == table["step"].max()]
    return last.groupby(["depth", "tau"], sort=True)[FINAL_COLUMNS].mean().reset_index()


def figure_bw(table: pd.DataFrame, axes) -> None:
    """Left: median gap |L - L*| against GD time per (depth, tau); middle: balance drift; right: Hessian lambda_max."""
    ax_gap, ax_drift, ax_hess = axes
    taus = sorted(table["tau"].unique())
    depths = sorted(table["depth"].unique())
    styles = ["-", "--", ":", "-."]
    colors = {N: f"C{i}" for i, N in enumerate(depths)}
    for (N, tau), g in table.groupby(["depth", "tau"], sort=True):
        m = g.groupby("time")[["gap", "drift"]].median()
        ls = styles[taus.index(tau) % len(styles)]
        t = m.index.to_numpy()
        keep = t > 0
        ax_gap.loglog(t[keep], np.maximum(m["gap"].to_numpy()[keep], 1e-16), ls=ls, color=colors[N],
                      label=f"N={N}, tau={tau:g}")
        ax_drift.loglog(t[keep], np.maximum(m["drift"].to_numpy()[keep], 1e-16), ls=ls, color=colors[N])
    ax_gap.set_xlabel("time = steps x step size")
    ax_gap.set_ylabel("median |L_tau - L*|")
    ax_gap.set_title("BW loss gap")
    ax_drift.set_xlabel("time = steps x step size")
    ax_drift.set_ylabel("median balance drift")
    ax_drift.set_title("balance drift")
    s = summarize_bw(table)
    for N, g in s.groupby("depth"):
        ax_hess.semilogy(g["tau"], g["bw_max"], marker="o", color=colors[N], label=f"BW end, N={N}")
        ax_hess.semilogy(g["tau"], g["saddle_bw_max"], marker="x", ls="--", color=colors[N])
        ax_hess.axhline(float(g["square_max"].mean()), color=colors[N], ls=":", lw=1)
    ax_hess.set_xlabel("tau")
    ax_hess.set_ylabel("Hessian lambda_max")
    ax_hess.set_title("o: BW end point, x: rank k-1 saddle, dotted: square loss")


BW_DEEP_LINEAR = Experiment(
    name="bw-deep-linear",
    summary="Deep linear generators, Bures-Wasserstein loss: gap to L*, balance drift, Hessians vs the square loss.",
    run=run_bw,
    params=(
        Param("depth", int, (1, 2, 4, 8), "depth N (a grid axis)", ge=1, le=64),
        Param("tau", float, (0.0, 0.1, 0.5), "smoothing tau (a grid axis)", ge=0, le=100),
        Param("d", int, 10, "sample dimension d", ge=2, le=64),
        Param("width", int, 4, "latent dimension and hidden width w: the rank bound k", ge=1, le=64),
        Param("init", str, "balanced", "initialization", choices=INITS),
        Param("scale", float, 0.5, "initialization scale (normal, balanced) or start of the close shrink", gt=0, le=10),
        Param("runs", int, 4, "initializations per cell (one C++ call)", ge=1, le=256),
        Param("steps", int, 20000, "GD steps", ge=1, le=10**8),
        Param("lr", float, 5e-3, "step size of BW GD", gt=0, le=10),
        Param("lr_square", float, 2e-3, "step size of square-loss GD", gt=0, le=10),
        Param("instance", int, 0, "seed of the zipf target", ge=0),
    ),
    timing=Timing(
        seconds=187.0,
        cpu_seconds=51.3,
        machine="2-core x86-64 AVX2, shared with other jobs (load average ~19); serial, no cache",
    ),
    validate=validate_bw,
    version="1",
    seeds=2,
    figure=figure_bw,
    panels=3,
    summarize=summarize_bw,
)
