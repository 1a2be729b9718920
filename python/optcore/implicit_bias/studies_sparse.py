"""Registered experiment ``sparse-benign-overfitting`` (RELATED.md 1.5, E-zg-1 and the noise axis).

One draw of the Gaussian sparse model (n examples, dimension d, s-sparse beta* = 1 on its support, noise sigma) per
cell and seed; every estimator of RELATED.md 1.2 on the same draw; the exact excess risk R = ||beta - beta*||^2
(isotropic design). Estimators:

* ``min-l2``: the min-l2 interpolant (GD on beta from 0), next to its closed-form expected risk (``closed_form``);
* ``min-l1``: basis pursuit (linear program, HiGHS);
* ``oracle-ls``: least squares on the true support (not an interpolant: the reference rate sigma^2 s / n);
* ``oracle-hybrid``, ``lasso-hybrid``, ``omp-hybrid``: least squares on a support (the true one; the Lasso's at the
  universal penalty sigma sqrt(2 log d / n); OMP's s greedy picks) plus the min-l2 fit of the residual -- interpolants;
* ``lasso``: the Lasso itself (not an interpolant);
* ``diag a=...``: GD in the C++ core on w*w - u*u from w = u = alpha 1, trained until the train MSE < ``tol``;
* ``composite lam=...``: GD on w*w - u*u + lam v (v(0) = 0), the naive additive composite (a negative control:
  RELATED.md 1.4 found it does not reproduce the paper's benefit).

The paper's own parametrization could not be verified (docs/sparse-regression.md) and is not among these.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.params import Param
from ..experiments.registry import Experiment, Timing
from .networks import Reparametrized
from .predictions import min_l1_interpolant, min_l2_interpolant
from .sparse_estimators import (
    hybrid_interpolant,
    lasso,
    omp_support,
    support_least_squares,
    train_to_interpolation,
    universal_penalty,
)
from .sparse_model import excess_risk, min_l2_risk, sparse_instance

#: The estimators that interpolate (train MSE ~ 0); the others are references.
INTERPOLATING = ("min-l2", "min-l1", "oracle-hybrid", "lasso-hybrid", "omp-hybrid")


def validate_sparse(config: dict) -> None:
    """n < d - 1 (interpolation and the closed form), s < n - 1, alpha_min <= alpha_max."""
    n, d, s = config["n"], config["d"], config["s"]
    if d <= n + 1:
        raise ValueError(f"d must be > n + 1 = {n + 1} (interpolation regime, closed form), got d = {d}")
    if s > n - 2:
        raise ValueError(f"s must be <= n - 2 = {n - 2} (least squares on the support), got s = {s}")
    if s > d:
        raise ValueError(f"s must be <= d = {d}, got s = {s}")
    if config["alpha_min"] > config["alpha_max"]:
        raise ValueError(f"alpha_min ({config['alpha_min']}) must be <= alpha_max ({config['alpha_max']})")


def _alphas(config) -> np.ndarray:
    return np.geomspace(config["alpha_min"], config["alpha_max"], config["alphas"])


def run_sparse(config: dict, seed: int) -> list[dict]:
    """Every estimator on one draw of the sparse model: one row per estimator."""
    n, d, s, sigma = config["n"], config["d"], config["s"], config["sigma"]
    inst = sparse_instance(n, d, s, sigma, seed, signal=config["signal"])
    X, y, b_star = inst.X, inst.y, inst.beta_star
    rows: list[dict] = []

    def add(name, beta, *, closed_form=np.nan, steps=0, converged=True):
        rows.append(
            {
                "estimator": name,
                "risk": float(excess_risk(beta, b_star)),
                "train_mse": float(np.mean((X @ beta - y) ** 2)),
                "closed_form": float(closed_form),
                "gd_steps": int(steps),
                "converged": int(converged),
            }
        )

    add("min-l2", min_l2_interpolant(X, y), closed_form=min_l2_risk(n, d, float(b_star @ b_star), sigma))
    add("min-l1", min_l1_interpolant(X, y))
    add("oracle-ls", support_least_squares(X, y, inst.support))
    add("oracle-hybrid", hybrid_interpolant(X, y, inst.support))
    # sigma = 0 has no universal penalty; a floor keeps the Lasso defined (then it selects the support exactly)
    beta_lasso = lasso(X, y, universal_penalty(n, d, max(sigma, 1e-3)))
    add("lasso", beta_lasso)
    add("lasso-hybrid", hybrid_interpolant(X, y, np.flatnonzero(np.abs(beta_lasso) > 1e-10)))
    add("omp-hybrid", hybrid_interpolant(X, y, omp_support(X, y, s)))
    gd = {"tol": config["tol"], "max_steps": config["max_steps"], "chunk": 2000, "threads": 1}
    alphas = _alphas(config)
    diag = train_to_interpolation(Reparametrized.diagonal(d), X, y, step_size=config["lr"], alpha=alphas, **gd)
    for r, a in enumerate(alphas):
        add(f"diag a={a:.0e}", diag.beta[r], steps=diag.steps[r], converged=diag.converged[r])
    if config["lam"] > 0:
        comp = train_to_interpolation(
            Reparametrized.composite(d, config["lam"]), X, y, step_size=config["lr"], alpha=alphas[0], **gd
        )
        add(f"composite lam={config['lam']:g}", comp.beta[0], steps=comp.steps[0], converged=comp.converged[0])
    return rows


def summarize_sparse(table: pd.DataFrame) -> pd.DataFrame:
    """Mean risk per (sigma, d, estimator) with its standard error, the closed form, and the non-converged runs."""
    keys = ["sigma", "d", "estimator"]
    g = table.groupby(keys, sort=True)
    out = g["risk"].agg(["mean", "sem", "count"]).rename(columns={"mean": "risk", "sem": "risk_se", "count": "seeds"})
    out["closed_form"] = g["closed_form"].mean()
    out["max_train_mse"] = g["train_mse"].max()
    out["not_converged"] = g["converged"].apply(lambda c: int((1 - c).sum()))
    return out.reset_index()


def ordering_table(table: pd.DataFrame) -> pd.DataFrame:
    """Wide view: mean risk of every estimator (columns) per (sigma, d), and the min-l2 closed form."""
    s = summarize_sparse(table)
    wide = s.pivot_table(index=["sigma", "d"], columns="estimator", values="risk")
    closed = s[s["estimator"] == "min-l2"].set_index(["sigma", "d"])["closed_form"]
    wide.insert(0, "min-l2 closed form", closed)
    wide.columns.name = None
    return wide.reset_index()


def _style(name: str):
    if name.startswith("diag"):
        return {"ls": "--", "marker": "s"}
    if name.startswith("composite"):
        return {"ls": ":", "marker": "x"}
    if name in ("oracle-ls", "lasso"):
        return {"ls": "-.", "marker": "v"}
    return {"ls": "-", "marker": "o"}


def figure_sparse(table: pd.DataFrame, axes) -> None:
    """Left: risk vs d/n at the middle sigma; right: risk vs sigma at the middle d; min-l2's closed form dashed."""
    s = summarize_sparse(table)
    sigmas, ds = np.sort(s["sigma"].unique()), np.sort(s["d"].unique())
    n = int(table["n"].iloc[0])
    panels = ((axes[0], "d", s[s["sigma"] == sigmas[len(sigmas) // 2]]), (axes[1], "sigma", s[s["d"] == ds[len(ds) // 2]]))
    for ax, axis, part in panels:
        for name, g in part.groupby("estimator", sort=True):
            g = g.sort_values(axis)
            x = g[axis] / n if axis == "d" else g[axis]
            ax.errorbar(x, g["risk"], yerr=g["risk_se"], label=name, capsize=2, ms=4, **_style(name))
        l2 = part[part["estimator"] == "min-l2"].sort_values(axis)
        x = l2[axis] / n if axis == "d" else l2[axis]
        ax.plot(x, l2["closed_form"], "k--", lw=2, alpha=0.4, label="min-l2 closed form")
        ax.set_yscale("log")
        ax.set_ylabel("excess risk ||beta - beta*||^2")
        if axis == "d":
            ax.set_xscale("log")
            ax.set_xlabel(f"d / n (n = {n}, sigma = {part['sigma'].iloc[0]:g})")
            ax.set_title("risk vs overparametrization")
        else:
            ax.set_xlabel(f"noise sigma (d = {int(part['d'].iloc[0])})")
            ax.set_title("risk vs noise")
    axes[1].legend(fontsize=6, ncol=2)


SPARSE_BENIGN_OVERFITTING = Experiment(
    name="sparse-benign-overfitting",
    summary="Sparse regression, n << d: exact test risk of min-l2/min-l1/hybrid interpolants and GD on "
    "reparametrized models vs d/n and noise.",
    run=run_sparse,
    params=(
        Param("n", int, 50, "examples", ge=4, le=2000),
        Param("d", int, (100, 200, 400, 800), "dimension (a grid axis)", ge=3, le=20000),
        Param("s", int, 5, "sparsity of beta*", ge=0, le=1000),
        Param("sigma", float, (0.25, 0.5, 1.0), "noise standard deviation (a grid axis)", ge=0, le=100),
        Param("signal", float, 1.0, "value of beta* on its support", gt=0, le=1000),
        Param("alpha_min", float, 1e-4, "smallest initialization scale of the diagonal nets", gt=0, le=10),
        Param("alpha_max", float, 0.01, "largest initialization scale of the diagonal nets", gt=0, le=10),
        Param("alphas", int, 3, "initialization scales (log-spaced, all in one kernel call)", ge=1, le=20),
        Param("lam", float, 0.1, "lambda of the composite w*w - u*u + lam v (0: leave it out)", ge=0, le=100),
        Param("lr", float, 0.02, "GD step size of the diagonal and composite nets", gt=0, le=10),
        Param("tol", float, 1e-8, "train MSE at which GD stops", gt=0, le=1),
        Param("max_steps", int, 40_000, "most GD steps", ge=1, le=10**8),
    ),
    timing=Timing(
        seconds=297.0,
        cpu_seconds=96.0,
        machine="2-core x86-64 AVX2, shared with other jobs; serial, no cache",
    ),
    validate=validate_sparse,
    version="1",
    seeds=4,
    figure=figure_sparse,
    panels=2,
    summarize=ordering_table,
)
