"""Registered memorization experiments (THEORY.md 2.3).

* ``memorization-capacity``: for a grid of N and widths D1 = D2 = W, the fraction of seeds where SGD from a
  random (He) initialization fits N random +-1 labels (all signs right), next to the construction's line
  N = W^2 / 4 (which always succeeds): a phase diagram of trained against constructed capacity.
* ``memorization-near-minimum``: SGD started at the memorizing construction perturbed by a relative amount delta
  (E-mem-3): risk ratio R(theta_T)/R(theta_0), distance to the construction, and whether any ReLU activation
  pattern changed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.params import Param
from ..experiments.registry import Experiment, Timing
from ..nn import MLP, NetworkProblem
from ..sgd import run_sgd
from .construction import memorize, sufficient_count


# --- memorization-capacity ----------------------------------------------------------------------------------------
def run_capacity(config: dict, seed: int) -> dict:
    """One (N, W) cell: train ``nets`` networks from He initializations on random +-1 labels; fraction memorized."""
    N, W, dx = config["N"], config["W"], config["dx"]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, dx))
    y = rng.choice([-1.0, 1.0], N)
    net = MLP([dx, W, W, 1], activation="relu", loss="squared")
    problem = NetworkProblem(net, X, y)
    res = run_sgd(
        problem,
        order="random_reshuffling",
        epochs=config["epochs"],
        step_size=config["lr"],
        x0=net.init(config["nets"], seed=seed % 2**63),
        runs=config["nets"],
        seed=seed,
        threads=1,
    )
    acc = np.nan_to_num(res.accuracy[:, -1], nan=0.0)
    return {
        "memorized": float(np.mean(acc == 1.0)),
        "train_accuracy": float(acc.mean()),
        "constructible": float(sufficient_count(W, W) >= N),
    }


def summarize_capacity(table: pd.DataFrame) -> pd.DataFrame:
    """Fraction of trained networks that memorize, per (N, W), and whether the construction covers N."""
    out = table.groupby(["W", "N"], sort=True)[["memorized", "train_accuracy", "constructible"]].mean().reset_index()
    out["construction_bound"] = out["W"] ** 2 // 4
    return out


def figure_capacity(table: pd.DataFrame, ax) -> None:
    """Phase diagram: fraction memorized by SGD over (W, N), with the construction's line N = W^2/4."""
    s = summarize_capacity(table)
    sc = ax.scatter(
        s["W"],
        s["N"],
        c=s["memorized"],
        cmap="viridis",
        vmin=0,
        vmax=1,
        s=120,
        marker="s",
        label="SGD: fraction of nets that memorize",
    )
    ax.figure.colorbar(sc, ax=ax, label="fraction memorized by SGD")
    Ws = np.linspace(s["W"].min(), s["W"].max(), 50)
    ax.plot(Ws, Ws**2 / 4, "r--", label="construction: N = W^2/4")
    ax.set_xlabel("hidden width W (two layers)")
    ax.set_ylabel("points N")
    ax.set_title("Memorization: constructed vs trained capacity")


CAPACITY = Experiment(
    name="memorization-capacity",
    summary="Phase diagram: fraction of SGD-trained ReLU nets (width W) that memorize N random labels vs N = W^2/4.",
    run=run_capacity,
    params=(
        Param("N", int, (16, 32, 64, 128), "points (a grid axis)", ge=1),
        Param("W", int, (4, 8, 16), "width of both hidden layers (a grid axis)", ge=1),
        Param("dx", int, 4, "input dimension", ge=1),
        Param("nets", int, 8, "networks trained per cell", ge=1),
        Param("epochs", int, 150, "SGD epochs (batch 1, random reshuffling)", ge=1),
        Param("lr", float, 0.02, "step size", gt=0),
    ),
    timing=Timing(
        seconds=47.1,
        cpu_seconds=3.1,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 21); serial, no cache",
    ),
    version="1",
    seeds=2,
    figure=figure_capacity,
    summarize=summarize_capacity,
)


# --- memorization-near-minimum ------------------------------------------------------------------------------------
def _pre_activations(layers, X) -> np.ndarray:
    """Every hidden unit's pre-activation at every input (float64 forward pass), shape (N, hidden units)."""
    a, out = X, []
    for W, b in layers[:-1]:
        z = a @ W.T + b
        out.append(z)
        a = np.maximum(z, 0)
    return np.concatenate(out, axis=1)


def run_near_minimum(config: dict, seed: int) -> dict:
    """One delta: perturb the construction, run SGD, compare."""
    N, dx, delta = config["N"], config["dx"], config["delta"]
    rng = np.random.default_rng(config["instance"])
    X = rng.standard_normal((N, dx))
    y = rng.uniform(-0.9, 0.9, N)  # strictly inside (-1, 1): no pre-activation sits on a kink
    c = memorize(X, y, seed=config["instance"])
    net, theta_star = c.to_mlp()
    problem = NetworkProblem(net, X, y)
    H = net.hessian(theta_star, X, y)
    # a single example's Hessian can be up to N times the average one: steps of size c / (N lambda_max)
    eta = config["c"] / (N * float(np.linalg.eigvalsh(H)[-1]))
    noise = np.random.default_rng(seed).standard_normal(theta_star.size)
    theta0 = theta_star + delta * np.linalg.norm(theta_star) * noise / np.linalg.norm(noise)
    res = run_sgd(
        problem,
        order="random_reshuffling",
        epochs=config["epochs"],
        step_size=eta,
        x0=theta0,
        runs=1,
        seed=seed,
        threads=1,
    )
    r0, rT = float(res.objective[0, 0]), float(res.objective[0, -1])
    z_star = _pre_activations(c.float_layers(), X)
    z_end = _pre_activations(net.unpack(res.x[0]), X)
    # units within rounding of a kink at the construction (the exact network saturates some units exactly at +-1,
    # i.e. ReLU inputs exactly 0) have no float64 pattern; count the others
    clear = np.abs(z_star) > 1e-9 * np.max(np.abs(z_star))
    return {
        "risk_start": r0,
        "risk_end": rT,
        "risk_ratio": rT / r0 if r0 > 0 else float("nan"),
        "distance_start": float(np.linalg.norm(theta0 - theta_star) / np.linalg.norm(theta_star)),
        "distance_end": float(np.linalg.norm(res.x[0] - theta_star) / np.linalg.norm(theta_star)),
        "pattern_changes": int(np.sum(((z_star > 0) != (z_end > 0)) & clear)),
        "units_at_kinks": int(np.sum(~clear)),
    }


def summarize_near_minimum(table: pd.DataFrame) -> pd.DataFrame:
    """Medians over seeds per delta."""
    cols = ["risk_ratio", "distance_start", "distance_end", "pattern_changes", "units_at_kinks"]
    return table.groupby("delta", sort=True)[cols].median().reset_index()


def figure_near_minimum(table: pd.DataFrame, ax) -> None:
    """Risk ratio R(theta_T)/R(theta_0) against the perturbation size."""
    s = summarize_near_minimum(table)
    ax.plot(s["delta"], s["risk_ratio"], marker="o", label="median risk ratio R(theta_T)/R(theta_0)")
    changed = s["pattern_changes"] > 0
    ax.scatter(
        s["delta"][changed],
        s["risk_ratio"][changed],
        s=120,
        facecolors="none",
        edgecolors="r",
        label="activation pattern changed",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("relative perturbation delta")
    ax.set_ylabel("risk ratio after SGD")
    ax.set_title("SGD started near a memorizing minimum")


NEAR_MINIMUM = Experiment(
    name="memorization-near-minimum",
    summary="SGD from a perturbed memorizing construction: risk ratio, distance and activation-pattern changes.",
    run=run_near_minimum,
    params=(
        Param("delta", float, (1e-6, 1e-5, 1e-4, 1e-3, 1e-2), "relative perturbation size (a grid axis)", ge=0),
        Param("N", int, 24, "points", ge=1),
        Param("dx", int, 3, "input dimension", ge=1),
        Param("epochs", int, 50, "SGD epochs (batch 1)", ge=1),
        Param("c", float, 0.5, "step size c / (N lambda_max(Hessian at the construction))", gt=0),
        Param("instance", int, 0, "seed of the data set and the construction", ge=0),
    ),
    timing=Timing(
        seconds=44.4,
        cpu_seconds=3.3,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 22); serial, no cache",
    ),
    version="1",
    seeds=3,
    figure=figure_near_minimum,
    summarize=summarize_near_minimum,
)
