"""Registered experiment ``implicit-bias-regression`` (THEORY.md 3.5, E-ib-1; the paper's RQ1).

Underdetermined regression X beta = y with fully connected, diagonal and circular convolutional linear nets of
depth L, trained by full-batch GD from initialization scale alpha (all alphas of a cell in one kernel call). Each
GD solution is compared with the limit the theory predicts:

* fully connected: the min-l2 interpolant as alpha -> 0 (T-FC-reg);
* diagonal (beta = w_+^L - w_-^L, w_+-(0) = alpha 1): Woodworth et al.'s argmin Q_alpha^L (exact for gradient
  flow at every alpha; min-l1 as alpha -> 0, min-l2 as alpha -> infinity);
* convolutional (filters started at alpha e_0, so every DFT coefficient starts at alpha): the interpolant of least
  DFT-l1 norm sum_k |fft(beta)_k| as alpha -> 0, the l1 end of the transformed-space potential. The DFT
  coefficients are complex, so this is the complex analogue of the diagonal result, measured here, not assumed;
  ``dft_support_gd`` and ``dft_support_pred`` count the frequencies carrying more than 1% of the largest modulus,
  ``error_to_planted`` is the distance to the planted predictor (two frequency pairs for conv nets, three
  coordinates otherwise), which small-alpha conv nets approach more closely than the min DFT-l1 interpolant.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.params import Param
from ..experiments.registry import Experiment, Timing
from .distances import normalized_error
from .gd import run_gd
from .networks import Convolutional, Diagonal, FullyConnected
from .predictions import fourier_min_l1, min_l1_interpolant, min_l2_interpolant, woodworth_minimizer


def regression_data(network: str, n: int, d: int, seed: int):
    """Gaussian inputs and targets of a sparse planted predictor (sparse in the DFT basis for conv nets)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if network == "conv":
        # two frequency pairs
        k = np.arange(d)
        beta = np.cos(2 * np.pi * 2 * k / d) - 0.7 * np.sin(2 * np.pi * 5 * k / d)
    else:
        beta = np.zeros(d)
        beta[:3] = [1.0, -2.0, 1.5]
    return X, X @ beta, beta


def make_network(network: str, depth: int, d: int, *, conv_init: str = "delta"):
    """The network of a cell: ``"fc"`` (width d), ``"diagonal"`` (signed) or ``"conv"`` (``conv_init`` filters)."""
    if network == "fc":
        return FullyConnected(depth, d, width=d)
    if network == "diagonal":
        return Diagonal(depth, d)
    return Convolutional(depth, d, init_kind=conv_init)


def _support(coefficients, rel: float = 0.01) -> int:
    mod = np.abs(coefficients)
    return int(np.sum(mod > rel * mod.max()))


def validate_regression(config: dict) -> None:
    """Interpolation needs n <= d (the predictions are interpolants); the scales run from alpha_min up."""
    if config["n"] > config["d"]:
        raise ValueError(f"n must be <= d (an interpolation problem), got n = {config['n']}, d = {config['d']}")
    if config["alpha_min"] > config["alpha_max"]:
        raise ValueError(f"alpha_min ({config['alpha_min']}) must be <= alpha_max ({config['alpha_max']})")


def run_regression(config: dict, seed: int) -> list[dict]:
    """One (network, depth) cell: GD for every alpha of the grid in one call, distances to the predictions."""
    net_name, L, n, d = config["network"], config["depth"], config["n"], config["d"]
    X, y, planted = regression_data(net_name, n, d, seed)
    alphas = np.geomspace(config["alpha_min"], config["alpha_max"], config["alphas"])
    # the curvature near the solution grows like alpha^(2(L-1)) once the weights are alpha-sized: shrink the step
    eta = config["lr"] / np.maximum(1.0, alphas ** (2 * (L - 1)))
    net = make_network(net_name, L, d)
    steps = config["steps"]
    res = run_gd(net, X, y, loss="squared", steps=steps, step_size=eta, alpha=alphas, record_at=[steps], seed=seed)
    l2, l1 = min_l2_interpolant(X, y), min_l1_interpolant(X, y)
    fl1 = fourier_min_l1(X, y, task="regression") if net_name == "conv" else None
    rows = []
    for r, alpha in enumerate(alphas):
        beta = res.final_beta[r]
        if net_name == "fc":
            pred, pred_name = l2, "min-l2"
        elif net_name == "diagonal":
            pred, pred_name = woodworth_minimizer(X, y, alpha, L), "argmin Q_alpha"
        else:
            pred, pred_name = fl1, "min DFT-l1"
        rows.append(
            {
                "alpha": float(alpha),
                "prediction": pred_name,
                "error_to_prediction": float(normalized_error(beta, pred)),
                "error_to_min_l2": float(normalized_error(beta, l2)),
                "error_to_min_l1": float(normalized_error(beta, l1)),
            "error_to_planted": float(normalized_error(beta, planted)),
                "residual": float(np.sqrt(2 * res.loss[r, -1])),
                "diverged": int(res.diverged[r] >= 0),
                "dft_support_gd": _support(np.fft.fft(beta)),
                "dft_support_pred": _support(np.fft.fft(pred)),
            }
        )
    return rows


def summarize_regression(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per (network, depth, alpha)."""
    cols = [
        "error_to_prediction",
        "error_to_min_l2",
        "error_to_min_l1",
        "error_to_planted",
        "residual",
        "diverged",
        "dft_support_gd",
        "dft_support_pred",
    ]
    keys = ["network", "depth", "alpha", "prediction"]
    return table.groupby(keys, sort=True)[cols].mean().reset_index()


def figure_regression(table: pd.DataFrame, ax) -> None:
    """Relative distance of the GD solution to its predicted limit against alpha, per network and depth."""
    s = summarize_regression(table)
    markers = {"fc": "o", "diagonal": "s", "conv": "^"}
    for (net, L, pred), g in s.groupby(["network", "depth", "prediction"], sort=True):
        ax.plot(
            g["alpha"],
            g["error_to_prediction"],
            marker=markers.get(net, "o"),
            ls="-" if L == 2 else "--",
            label=f"{net} L={L} vs {pred}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("initialization scale alpha")
    ax.set_ylabel("||beta_GD - beta_pred|| / ||beta_pred||")
    ax.set_title("Regression: GD solution vs predicted limit")


REGRESSION = Experiment(
    name="implicit-bias-regression",
    summary="Linear FC/diagonal/conv nets on underdetermined regression: GD solution vs predicted limit as alpha -> 0.",
    run=run_regression,
    params=(
        Param(
            "network",
            str,
            ("fc", "diagonal", "conv"),
            "network family (a grid axis)",
            choices=("fc", "diagonal", "conv"),
        ),
        Param("depth", int, (2, 3), "depth L (a grid axis)", ge=1),
        Param("n", int, 8, "examples", ge=1),
        Param("d", int, 25, "input dimension (odd: conv nets then have one real DFT coefficient, the mean)", ge=3),
        Param("alpha_min", float, 0.01, "smallest initialization scale", gt=0),
        Param("alpha_max", float, 1.0, "largest initialization scale", gt=0),
        Param("alphas", int, 5, "initialization scales (log-spaced, one GD run each, all in one kernel call)", ge=1),
        Param("steps", int, 200000, "GD steps", ge=1),
        Param("lr", float, 0.02, "step size (divided by alpha^(2(L-1)) when alpha > 1)", gt=0),
    ),
    timing=Timing(
        seconds=290.4,
        cpu_seconds=28.1,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 20); serial, no cache",
    ),
    validate=validate_regression,
    version="2",
    seeds=2,
    figure=figure_regression,
    summarize=summarize_regression,
)
