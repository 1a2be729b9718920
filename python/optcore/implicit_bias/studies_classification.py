"""Registered experiment ``implicit-bias-classification`` (THEORY.md 3.5, E-ib-2; the paper's RQ2).

Separable binary data, exponential (or logistic) loss, long full-batch GD on fully connected, diagonal and circular
convolutional linear nets of depth L. The direction of the end-to-end predictor beta(t) is compared over time with
the limit the theory predicts (THEORY.md 3.3-3.4):

* fully connected, any depth: the l2 max-margin (SVM) direction (Soudry et al.; error ~ 1/log t);
* diagonal, depth L: a stationary point of min ||beta||_{2/L} s.t. y_i <x_i, beta> >= 1;
* convolutional, depth L: a stationary point of min sum_k |fft(beta)_k|^{2/L} under the same margins
  (Gunasekar et al. 2018): sparse in the DFT domain, where the SVM direction is dense.

For L >= 3 the programs are non-convex; the prediction is the stationary point that reweighting reaches from the
convex solution, and GD may approach another one (then the error stalls; the table shows it).
``objective_ratio`` is the predicted program's objective at GD's direction (rescaled to margin 1) over its value at
the prediction: it falls to 1 when GD heads for the prediction, and below 1 only if GD finds a better point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.params import Param
from ..experiments.registry import Experiment, Timing
from .distances import direction_error
from .gd import log_schedule, run_gd
from .predictions import fourier_lp_margin, l2_max_margin, lp_max_margin
from .studies_regression import make_network


def separable_data(n: int, d: int, seed: int):
    """Gaussian inputs labelled by a random hyperplane through 0."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, np.sign(X @ rng.standard_normal(d))


def dft_support(beta, rel: float = 0.01) -> int:
    """Number of DFT coefficients with modulus above ``rel`` times the largest."""
    mod = np.abs(np.fft.fft(beta))
    return int(np.sum(mod > rel * mod.max()))


def predicted_direction(network: str, depth: int, X, y) -> np.ndarray:
    """The predicted limit (margin 1) of a cell."""
    if network == "fc" or depth == 1:
        return l2_max_margin(X, y)
    if network == "diagonal":
        return lp_max_margin(X, y, 2.0 / depth)
    return fourier_lp_margin(X, y, 2.0 / depth)


def margin_objective(network: str, depth: int, beta, X, y) -> np.ndarray:
    """The predicted program's objective at beta (last axis) rescaled to margin 1.

    sum |beta_j|^(2/L), or the same of the DFT coefficients for conv nets (sum of squares for L = 1 and fc nets).
    """
    beta = np.asarray(beta, dtype=float)
    margin = np.min(y * (beta @ X.T), axis=-1, keepdims=True)
    # before GD separates the data (margin <= 0) there is no margin-1 rescaling: NaN
    b = beta / np.where(margin > 0, margin, np.nan)
    if network == "fc" or depth == 1:
        return np.sum(b**2, axis=-1)
    coef = np.fft.fft(b, axis=-1) if network == "conv" else b
    return np.sum(np.abs(coef) ** (2.0 / depth), axis=-1)


def run_classification(config: dict, seed: int) -> list[dict]:
    """One (network, depth) cell: one long GD run, direction errors at log-spaced steps."""
    net_name, L = config["network"], config["depth"]
    X, y = separable_data(config["n"], config["d"], seed)
    # random conv filters: with delta filters the real DFT coefficient (the mean) of a depth-2 net keeps its sign
    net = make_network(net_name, L, config["d"], conv_init="random")
    steps = config["steps"]
    res = run_gd(
        net,
        X,
        y,
        loss=config["loss"],
        steps=steps,
        step_size=config["lr"],
        alpha=config["alpha"],
        record_at=log_schedule(steps, 50),
        seed=seed,
    )
    pred = predicted_direction(net_name, L, X, y)
    svm = l2_max_margin(X, y)
    beta = res.beta[0]
    err = direction_error(beta, pred)
    err_svm = direction_error(beta, svm)
    ratio = margin_objective(net_name, L, beta, X, y) / margin_objective(net_name, L, pred, X, y)
    rows = []
    for k, t in enumerate(res.steps):
        if t == 0:
            continue
        rows.append(
            {
                "step": int(t),
                "direction_error": float(err[k]),
                "error_to_svm": float(err_svm[k]),
                "train_loss": float(res.loss[0, k]),
                "dft_support_gd": dft_support(beta[k]),
                "dft_support_pred": dft_support(pred),
                "dft_support_svm": dft_support(svm),
                "diverged": int(res.diverged[0] >= 0),
                "objective_ratio": float(ratio[k]),
            }
        )
    return rows


def summarize_classification(table: pd.DataFrame) -> pd.DataFrame:
    """At the last step: mean direction errors, error x log t (Soudry's constant) and DFT supports, per cell."""
    last = table[table["step"] == table["step"].max()].copy()
    last["error_x_log_t"] = last["direction_error"] * np.log(last["step"])
    cols = [
        "direction_error",
        "error_x_log_t",
        "error_to_svm",
        "train_loss",
        "dft_support_gd",
        "dft_support_pred",
        "dft_support_svm",
        "objective_ratio",
        "diverged",
    ]
    return last.groupby(["network", "depth", "step"], sort=True)[cols].mean().reset_index()


def _limit_name(network: str, depth: int) -> str:
    """The predicted limit of a cell, as the legend names it (see :func:`predicted_direction`)."""
    if network == "fc" or depth == 1:
        return "SVM (l2)"
    return f"l_2/{depth} margin" + (" of DFT" if network == "conv" else "")


def figure_classification(table: pd.DataFrame, ax) -> None:
    """Direction error to the predicted limit against the step count (log scale), with a c / log t guide."""
    s = table.groupby(["network", "depth", "step"], sort=True)["direction_error"].mean().reset_index()
    styles = {"fc": "-", "diagonal": "--", "conv": ":"}
    for (net, L), g in s.groupby(["network", "depth"], sort=True):
        ax.plot(
            g["step"],
            g["direction_error"],
            ls=styles.get(net, "-"),
            marker="o",
            ms=2.5,
            label=f"{net} L={L} vs {_limit_name(net, L)}",
        )
    t = np.geomspace(max(10, s["step"].min()), s["step"].max(), 50)
    ref = s[s["step"] == s["step"].max()]["direction_error"].median() * np.log(t[-1])
    ax.plot(t, ref / np.log(t), "k-", lw=2, alpha=0.35, label="c / log t (Soudry et al.'s rate, fc)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.figure.set_size_inches(7.2, 5.2)
    ax.set_xlabel("GD step t")
    ax.set_ylabel("|| beta/|beta| - beta_pred/|beta_pred| || (mean over seeds)")
    ax.set_title("Classification: direction of GD vs predicted max-margin limit")


CLASSIFICATION = Experiment(
    name="implicit-bias-classification",
    summary="Separable data, exp loss: direction of FC/diagonal/conv linear nets vs their l_{2/L} max-margin limits.",
    run=run_classification,
    params=(
        Param(
            "network",
            str,
            ("fc", "diagonal", "conv"),
            "network family (a grid axis)",
            choices=("fc", "diagonal", "conv"),
        ),
        Param("depth", int, (1, 2, 3), "depth L (a grid axis; L = 1 is the linear model)", ge=1),
        Param("n", int, 8, "examples", ge=1),
        Param("d", int, 8, "input dimension", ge=1),
        Param("loss", str, "exponential", "loss", choices=("exponential", "logistic")),
        Param("alpha", float, 0.1, "initialization scale", gt=0),
        Param("steps", int, 1000000, "GD steps", ge=1),
        Param("lr", float, 0.1, "step size", gt=0),
    ),
    timing=Timing(
        seconds=126.3,
        cpu_seconds=9.6,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 22); serial, no cache",
    ),
    version="1",
    seeds=2,
    figure=figure_classification,
    summarize=summarize_classification,
)
