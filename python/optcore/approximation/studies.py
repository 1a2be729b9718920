"""The registered experiment ``compositional-approximation`` (THEORY.md 5.1, repro E-pnas-1).

For each target family (a random compositional function of n inputs, and the non-compositional control of the
same roughness, see :mod:`.targets`), each architecture (shallow one-hidden-layer ReLU; binary-tree locally
connected ReLU, optionally with weight sharing, see :mod:`.networks`) and each parameter budget, one cell fits the
network with the engine (:mod:`.fitting`) and reports its relative test MSE. The summary fits the slope of
log(test MSE) against log(free parameters) per (target, architecture), next to the theory's.

The theory's rates (Mhaskar-Poggio, THEORY.md 5.1) are for the *best approximation* in sup norm, with the number of
units N: eps ~ N^(-m/2) for the tree on a compositional target of bivariate constituents of smoothness m, and
eps ~ N^(-m/n) for a shallow net (and for any net on a generic function of n variables). Both architectures here
have free parameters proportional to units (the tree's nodes have a fixed number of output channels), so in MSE
(~ eps^2) against parameters the predicted slopes are -m (tree, compositional) and -2m/n (shallow, and both on the
control). We quote m = 1, the Lipschitz (ReLU) case of THEORY.md 5.1; the targets are analytic, so larger m would
be admissible for the best approximation. Trained networks are not best approximations (SGD, finite data), so the
measured slopes show the trend -- the tree's error falling faster, and only on compositional targets -- not the
constants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.params import Param
from ..experiments.registry import Experiment, Timing
from .fitting import fit_network
from .networks import shallow_network, shallow_width_for_budget, tree_network, tree_units_for_budget
from .targets import compositional_target, control_target, tree_inputs

ARCHITECTURES = ("shallow", "tree", "tree-shared")
TARGETS = ("compositional", "control")
SMOOTHNESS_M = 1.0  # the ReLU (Lipschitz) case of THEORY.md 5.1


def theory_slope(target: str, arch: str, n: int, m: float = SMOOTHNESS_M) -> float:
    """Best-approximation slope of log(MSE) vs log(parameters): -m (tree, compositional target), else -2m/n."""
    return -m if (target == "compositional" and arch.startswith("tree")) else -2.0 * m / n


def build_target(kind: str, n: int, seed: int):
    """The target of one cell: ``compositional`` or ``control`` on n inputs, seeded."""
    return compositional_target(n, seed=seed) if kind == "compositional" else control_target(n, seed=seed)


def build_network(arch: str, n: int, budget: int, channels: int):
    """The network of one cell with about ``budget`` free parameters."""
    if arch == "shallow":
        return shallow_network(n, width=shallow_width_for_budget(n, budget))
    shared = arch == "tree-shared"
    units = tree_units_for_budget(n, budget, channels=channels, shared=shared)
    return tree_network(n, units=units, channels=channels, shared=shared)


def validate_cell(config: dict) -> None:
    """A binary tree (network or compositional target) needs n a power of two; a batch fits in the training set."""
    if config["arch"] != "shallow" or config["target"] == "compositional":
        tree_inputs(config["n"])
    if config["batch_size"] > config["train_points"]:
        raise ValueError(
            f"batch_size must be <= train_points = {config['train_points']}, got {config['batch_size']}"
        )


def run_cell(config: dict, seed: int) -> dict:
    """One (target, arch, budget) cell: build, fit through the engine, measure.

    The target function depends only on (target, n, instance), so every budget and architecture of an instance
    fits the same function; ``seed`` draws the samples, the initialization and the SGD orders.
    """
    n = config["n"]
    target = build_target(config["target"], n, 1000 * config["instance"] + n)
    net = build_network(config["arch"], n, config["budget"], config["channels"])
    lr = config["lr"]
    fit = fit_network(
        net,
        target,
        seed=seed,
        train_points=config["train_points"],
        test_points=config["test_points"],
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        step_sizes=[lr / 2**r for r in range(config["tries"])],  # lr, lr/2, lr/4, ...: each its own SGD order
        decay_epochs=config["decay_epochs"],
        threads=1,
    )
    return {
        "free_params": fit.free_params,
        "test_mse": fit.test_mse,
        "train_mse": fit.train_mse,
        "step_size": fit.step_size,
        "fit_seconds": fit.seconds,
    }


def fitted_slope(params, mse) -> float:
    """Least-squares slope of log(mse) against log(params) (NaN with fewer than two distinct budgets)."""
    x, y = np.log(np.asarray(params, float)), np.log(np.asarray(mse, float))
    ok = np.isfinite(x) & np.isfinite(y)
    if np.unique(x[ok]).size < 2:
        return float("nan")
    return float(np.polyfit(x[ok], y[ok], 1)[0])


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per (target, arch, budget): geometric-mean test and train MSE over instances; slopes per (target, arch)."""
    rows = []
    for (target, arch), group in table.groupby(["target", "arch"], sort=True):
        n = int(group["n"].iloc[0])
        slope = fitted_slope(group["free_params"], group["test_mse"])
        for budget, cell in group.groupby("budget", sort=True):
            rows.append(
                {
                    "target": target,
                    "arch": arch,
                    "budget": budget,
                    "free_params": float(cell["free_params"].mean()),
                    "test_mse": float(np.exp(np.log(cell["test_mse"]).mean())),
                    "train_mse": float(np.exp(np.log(cell["train_mse"]).mean())),
                    "fits": len(cell),
                    "fitted_slope": slope,
                    "theory_slope": theory_slope(target, arch, n),
                }
            )
    return pd.DataFrame(rows)


STYLE = {"shallow": ("tab:orange", "s"), "tree": ("tab:blue", "o"), "tree-shared": ("tab:green", "^")}


def figure(table: pd.DataFrame, ax) -> None:
    """Test MSE vs free parameters, log-log: filled markers and solid fits compositional, hollow and dashed control."""
    s = summarize(table)
    ax.figure.set_size_inches(7.2, 5.0)
    for (target, arch), group in s.groupby(["target", "arch"], sort=True):
        color, marker = STYLE.get(arch, ("k", "x"))
        comp = target == "compositional"
        raw = table[(table["target"] == target) & (table["arch"] == arch)]
        ax.scatter(raw["free_params"], raw["test_mse"], color=color, marker=marker, s=10, alpha=0.3)
        ax.plot(
            group["free_params"],
            group["test_mse"],
            marker=marker,
            color=color,
            linestyle="none",
            markerfacecolor=color if comp else "white",
        )
        slope = group["fitted_slope"].iloc[0]
        x = np.geomspace(group["free_params"].min(), group["free_params"].max(), 20)
        intercept = np.mean(np.log(group["test_mse"]) - slope * np.log(group["free_params"]))
        ax.plot(
            x,
            np.exp(intercept) * x**slope,
            color=color,
            linestyle="-" if comp else "--",
            label=f"{arch}, {target}: slope {slope:.2f} (theory {group['theory_slope'].iloc[0]:.2f})",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("free parameters")
    ax.set_ylabel("test MSE / Var(target)")
    n = int(table["n"].iloc[0])
    ax.set_title(f"Tree vs shallow ReLU nets, n = {n} inputs (geometric means)")


COMPOSITIONAL_APPROXIMATION = Experiment(
    name="compositional-approximation",
    summary="Test MSE vs parameters: binary-tree deep ReLU vs shallow ReLU on compositional targets and a control.",
    run=run_cell,
    params=(
        Param("target", str, TARGETS, "target family (a grid axis)", choices=TARGETS),
        Param("arch", str, ("shallow", "tree"), "architecture (a grid axis)", choices=ARCHITECTURES),
        Param("budget", int, (200, 400, 800, 1600), "free-parameter budget (a grid axis)", ge=1),
        Param(
            "instance", int, (0, 1, 2), "target function instance (a grid axis), shared by all budgets and nets", ge=0
        ),
        Param("n", int, 8, "inputs (a power of two: 4, 8, 16)", ge=2),
        Param("channels", int, 4, "outputs per tree node read by its parent", ge=1),
        Param("train_points", int, 8192, "training sample size", ge=2),
        Param("test_points", int, 4096, "test sample size", ge=2),
        Param("epochs", int, 60, "SGD epochs (random reshuffling)", ge=1),
        Param("batch_size", int, 16, "minibatch size", ge=1),
        Param("lr", float, 0.2, "largest initial step size (the runs use lr, lr/2, lr/4, ...)", gt=0),
        Param(
            "tries", int, 3, "SGD runs per cell (step sizes lr / 2^r); the lowest final training loss is kept", ge=1
        ),
        Param("decay_epochs", float, 10.0, "epochs until the step size halves (inverse-time decay)", gt=0),
    ),
    timing=Timing(
        seconds=1446.9,
        cpu_seconds=129.0,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 16); serial, no cache",
    ),
    validate=validate_cell,
    version="2",
    seeds=1,
    figure=figure,
    summarize=summarize,
)
