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
    """Phase diagram: fraction memorized by SGD over (W, N), each cell labelled with its count of networks, next to
    the construction's region N <= W^2/4 (where it memorizes every data set)."""
    s = summarize_capacity(table)
    trials = table.groupby(["W", "N"], sort=True)["nets"].sum().to_numpy()  # networks per cell, over the seeds
    sc = ax.scatter(
        s["W"],
        s["N"],
        c=s["memorized"],
        cmap="viridis",
        vmin=0,
        vmax=1,
        s=500,
        marker="s",
        label="SGD: fraction of nets that memorize (count in the square)",
    )
    for (w, n, frac), total in zip(s[["W", "N", "memorized"]].to_numpy(), trials, strict=True):
        ax.annotate(
            f"{round(frac * total):d}/{total:d}",
            (w, n),
            ha="center",
            va="center",
            fontsize="xx-small",
            color="white" if frac < 0.6 else "black",
        )
    ax.figure.colorbar(sc, ax=ax, label="fraction memorized by SGD")
    Ws = np.geomspace(s["W"].min() / 1.3, s["W"].max() * 1.3, 50)
    ax.plot(Ws, Ws**2 / 4, "r--", label="construction: N = W^2/4")
    ax.fill_between(Ws, 1, Ws**2 / 4, color="r", alpha=0.07, linewidth=0, label="construction memorizes (N <= W^2/4)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlim(Ws[0], Ws[-1])
    ax.set_ylim(s["N"].min() / 1.5, s["N"].max() * 6)  # room above the grid for the legend
    ax.set_xticks(sorted(set(s["W"])), [str(w) for w in sorted(set(s["W"]))])
    ax.set_yticks(sorted(set(s["N"])), [str(n) for n in sorted(set(s["N"]))])
    ax.minorticks_off()
    ax.legend(fontsize="small", loc="upper left")
    ax.set_xlabel("hidden width W (both hidden layers)")
    ax.set_ylabel("points N (random +-1 labels)")
    ax.set_title(f"Memorization: constructed vs trained capacity ({table['epochs'].iloc[0]} SGD epochs)")


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
    """Medians over seeds per delta: the risks before and after SGD as well as their ratio (a ratio alone hides a
    large start: at delta = 1e-2 the risk falls most in relative terms but stays far above the others)."""
    cols = [
        "risk_start",
        "risk_end",
        "risk_ratio",
        "distance_start",
        "distance_end",
        "pattern_changes",
        "units_at_kinks",
    ]
    return table.groupby("delta", sort=True)[cols].median().reset_index()


def figure_near_minimum(table: pd.DataFrame, ax) -> None:
    """Training risk before and after SGD against the perturbation size, every seed and the medians.

    The risks themselves, not only their ratio: a large drop from a large start (delta = 1e-2) must not look
    better than a small drop from a near-zero one.
    """
    s = summarize_near_minimum(table)
    curves = (("risk_start", "s", "R(theta_0), perturbed start"), ("risk_end", "o", "R(theta_T), after SGD"))
    for col, marker, text in curves:
        (line,) = ax.plot(s["delta"], s[col], marker=marker, label=f"median {text}")
        ax.scatter(table["delta"], table[col], marker=marker, s=14, alpha=0.4, color=line.get_color())
    changed = table[table["pattern_changes"] > 0]
    ax.scatter(
        changed["delta"],
        changed["risk_end"],
        s=120,
        facecolors="none",
        edgecolors="r",
        label="after SGD, activation pattern changed",
    )
    for _, row in s.iterrows():
        ax.annotate(
            f"x{row['risk_ratio']:.1g}",
            (row["delta"], row["risk_end"]),
            textcoords="offset points",
            xytext=(0, -14),
            ha="center",
            fontsize="x-small",
        )
    ax.plot([], [], " ", label="x0.02 etc.: median R(theta_T)/R(theta_0); dots: seeds")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("relative perturbation delta = ||theta_0 - theta*|| / ||theta*||")
    ax.set_ylabel("training risk R (squared loss)")
    n_seeds = table.groupby("delta")["seed"].nunique().min()
    ax.set_title(
        f"SGD started near a memorizing minimum (N = {table['N'].iloc[0]}, {table['epochs'].iloc[0]} epochs, "
        f"{n_seeds} seeds)",
        fontsize="medium",
    )


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
