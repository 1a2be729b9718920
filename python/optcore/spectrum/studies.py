"""Registered experiments ``edge-of-stability`` and ``hessian-density`` (optcore.spectrum on trained networks).

``edge-of-stability`` -- Cohen, Kaur, Li, Kolter, Talwalkar (ICLR 2021), "Gradient descent on neural networks
typically occurs at the edge of stability": full-batch GD with step size eta on a tanh MLP with squared loss on
scikit-learn's bundled digits (one-hot targets, no download). The sharpness lambda_max of the training-loss Hessian
is measured every few steps (Lanczos on the C++ Hessian-vector products). Their report: it rises ("progressive
sharpening") until it reaches about 2 / eta -- the largest sharpness at which GD on the local quadratic is stable --
and then hovers there, while the loss keeps decreasing over long times but not monotonically.

``hessian-density`` -- the Hessian's spectral density (stochastic Lanczos quadrature, Ghorbani et al. 2019) of a
ReLU MLP with softmax cross-entropy on digits at its initialization and after training (SGD, random reshuffling,
in the C++ engine): one table row per (phase, grid point), plus lambda_max and the trace in every row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..dynamics.digits import digits_split
from ..experiments.params import Param
from ..experiments.registry import Experiment, Timing
from ..nn import MLP, NetworkProblem
from ..sgd import run_sgd
from .density import density
from .eigen import sharpness
from .operator import from_mlp
from .trace import trace


def digits_subset(n: int, seed: int):
    """``n`` standardized digits images (pixels / 16, centred) drawn with ``seed``, labels 0..9."""
    X, y, _, _ = digits_split(0.0, seed)
    if not 1 <= n <= len(y):
        raise ValueError(f"n must be in 1..{len(y)}, got {n}")
    return X[:n], y[:n]


def run_edge_of_stability(config: dict, seed: int) -> list[dict]:
    """Full-batch GD at one step size; the loss at every step, the sharpness every ``every`` steps."""
    eta, steps, every = config["eta"], config["steps"], config["every"]
    X, y = digits_subset(config["n"], config["instance"])
    Y = np.eye(10)[y.astype(int)]
    mlp = MLP([64, config["width"], config["width"], 10], activation=config["activation"], loss="squared")
    # data and initialization come from `instance`, not from the sweep's seed: every step size starts from the
    # same network, so their sharpness curves differ only by eta (the seed moves the Lanczos start vectors)
    theta = mlp.init(1, seed=config["instance"])[0]
    losses = np.full(steps + 1, np.nan)
    rows = []
    diverged = False
    for k in range(steps + 1):
        loss, grad = mlp.loss_and_grad(theta, X, Y)
        losses[k] = loss
        # GD above the edge of stability can diverge: stop there (a divergence, not a sharpness measurement)
        if not np.isfinite(loss) or loss > 1e3 * max(losses[0], 1.0):
            diverged = True
            break
        if k % every == 0:
            op = from_mlp(mlp, theta, X, Y, symmetry_rtol=None)
            lam = sharpness(op, tol=1e-7, seed=seed + k)
            rows.append({"step": k, "train_loss": float(loss), "sharpness": lam, "hvps": op.n_hvp})
        theta = theta - eta * grad
    ups = np.diff(losses[np.isfinite(losses)]) > 0
    late = [r["sharpness"] for r in rows if r["step"] >= steps // 2]
    for r in rows:
        r.update(
            two_over_eta=2.0 / eta,
            sharpness_eta_over_2=r["sharpness"] * eta / 2,
            loss_increase_fraction=float(ups.mean()) if ups.size else float("nan"),
            late_median_sharpness_eta_over_2=float(np.median(late)) * eta / 2 if late else float("nan"),
            final_loss=float(losses[k]),
            diverged=int(diverged),
        )
    return rows


def summarize_edge_of_stability(table: pd.DataFrame) -> pd.DataFrame:
    """Per step size: 2/eta, the sharpness at the start and its median over the second half (and that x eta/2),
    the fraction of steps at which the loss went up, the final loss."""
    rows = []
    for eta, g in table.groupby("eta", sort=True):
        g = g.sort_values("step")
        first = g[g["step"] == g["step"].min()]
        late = g[g["step"] >= g["step"].max() / 2]
        rows.append(
            {
                "eta": eta,
                "2/eta": 2 / eta,
                "initial_sharpness": float(first["sharpness"].mean()),
                "late_median_sharpness": float(late["sharpness"].median()),
                "late_sharpness_x_eta/2": float(late["sharpness"].median() * eta / 2),
                "loss_increase_fraction": float(g["loss_increase_fraction"].mean()),
                "final_loss": float(g["final_loss"].mean()),
                "diverged": int(g["diverged"].max()),
                "hvps_per_measurement": float(g["hvps"].mean()),
            }
        )
    return pd.DataFrame(rows)


def figure_edge_of_stability(table: pd.DataFrame, ax) -> None:
    """Sharpness against GD step, one colour per step size, with its 2/eta as a dashed line."""
    first = table[table["replicate"] == table["replicate"].min()] if "replicate" in table else table
    for i, (eta, g) in enumerate(first.groupby("eta", sort=True)):
        color = f"C{i}"
        ax.plot(g["step"], g["sharpness"], color=color, label=f"eta = {eta:g}")
        ax.axhline(2 / eta, color=color, linestyle="--", linewidth=1)
    ax.set_xlabel("GD step")
    ax.set_ylabel("sharpness lambda_max (dashed: 2 / eta)")
    ax.set_title("Edge of stability: full-batch GD on digits")


EDGE_OF_STABILITY = Experiment(
    name="edge-of-stability",
    summary="Full-batch GD on digits: the Hessian's top eigenvalue rises to about 2/eta and hovers (Cohen et al. 2021).",
    run=run_edge_of_stability,
    params=(
        Param("eta", float, (0.1, 0.2, 0.3, 0.4), "GD step size (a grid axis)", gt=0),
        Param("steps", int, 3000, "GD steps", ge=1),
        Param("every", int, 30, "measure the sharpness every this many steps", ge=1),
        Param("n", int, 500, "training examples (of the 1797 digits)", ge=2, le=1797),
        Param("width", int, 32, "width of both hidden layers", ge=1),
        Param("activation", str, "tanh", "hidden activation"),
        Param("instance", int, 0, "seed of the subset of digits and of the initialization", ge=0),
    ),
    timing=Timing(
        seconds=548.0,
        machine="2-core x86-64 AVX2 shared with other jobs (load average 12-14); --workers 2, no cache",
    ),
    version="2",
    seeds=1,
    figure=figure_edge_of_stability,
    summarize=summarize_edge_of_stability,
)


def run_hessian_density(config: dict, seed: int) -> list[dict]:
    """SLQ densities of the training-loss Hessian at initialization and after ``epochs`` of SGD."""
    X, y = digits_subset(config["n"], config["instance"])
    mlp = MLP([64, config["width"], config["width"], 10], activation="relu", loss="softmax_ce")
    theta0 = mlp.init(1, seed=seed)[0]
    res = run_sgd(
        NetworkProblem(mlp, X, y),
        order="random_reshuffling",
        batch_size=32,
        step_size=config["lr"],
        epochs=config["epochs"],
        x0=theta0[None, :],
        seed=seed,
        runs=1,
    )
    rows = []
    for phase, theta in (("initialization", theta0), ("trained", res.x[0])):
        op = from_mlp(mlp, theta, X, y, symmetry_rtol=None)
        d = density(op, n_vectors=config["vectors"], steps=config["lanczos_steps"], seed=seed)
        lam = sharpness(op, seed=seed)
        tr = trace(op, rtol=0.05, seed=seed)
        common = {
            "phase": phase,
            "train_loss": float(mlp.loss_value(theta, X, y)),
            "train_accuracy": float(mlp.accuracy(theta, X, y)),
            "lambda_max": lam,
            "trace": tr.value,
            "trace_halfwidth": tr.half_width,
            "sigma": d.sigma,
            "slq_hvps": d.n_hvp,
        }
        for t, rho in zip(d.grid[::4], d.density[::4], strict=True):
            rows.append({**common, "eigenvalue": float(t), "density": float(rho)})
    return rows


def summarize_hessian_density(table: pd.DataFrame) -> pd.DataFrame:
    """Per phase: loss, accuracy, lambda_max, trace (with its 95% half-width)."""
    cols = ["train_loss", "train_accuracy", "lambda_max", "trace", "trace_halfwidth", "slq_hvps"]
    return table.groupby("phase", sort=False)[cols].first().reset_index()


def figure_hessian_density(table: pd.DataFrame, ax) -> None:
    """Log density against eigenvalue at initialization and after training."""
    first = table[table["replicate"] == table["replicate"].min()] if "replicate" in table else table
    for phase, g in first.groupby("phase", sort=False):
        y = np.maximum(g["density"].to_numpy(), 1e-12 * g["density"].max())
        ax.plot(g["eigenvalue"], y, label=f"{phase}: lambda_max = {g['lambda_max'].iloc[0]:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel("Hessian eigenvalue")
    ax.set_ylabel("spectral density (SLQ, Gaussian broadening)")
    ax.set_title("Hessian spectral density, ReLU MLP on digits")


HESSIAN_DENSITY = Experiment(
    name="hessian-density",
    summary="SLQ spectral density of a ReLU MLP's Hessian on digits at initialization and after SGD training.",
    run=run_hessian_density,
    params=(
        Param("n", int, 500, "training examples (of the 1797 digits)", ge=2, le=1797),
        Param("width", int, 32, "width of both hidden layers", ge=1),
        Param("epochs", int, 100, "SGD epochs (random reshuffling, batch 32)", ge=1),
        Param("lr", float, 0.05, "SGD step size", gt=0),
        Param("vectors", int, 10, "SLQ start vectors", ge=1),
        Param("lanczos_steps", int, 80, "Lanczos steps per vector", ge=2),
        Param("instance", int, 0, "seed of the subset of digits", ge=0),
    ),
    timing=Timing(
        seconds=100.0,
        machine="2-core x86-64 AVX2 shared with other jobs (load average 12-14); serial, no cache",
    ),
    version="1",
    seeds=1,
    figure=figure_hessian_density,
    summarize=summarize_hessian_density,
)


def edge_of_stability_panels(table: pd.DataFrame):
    """The docs figure: training loss (log) and sharpness against 2/eta, side by side; returns the Figure."""
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_sharp) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (eta, g) in enumerate(table.groupby("eta", sort=True)):
        ax_loss.plot(g["step"], g["train_loss"], color=f"C{i}", label=f"eta = {eta:g}")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("GD step")
    ax_loss.set_ylabel("training loss (squared, mean)")
    ax_loss.set_title("Loss (sampled at the sharpness measurements)")
    ax_loss.legend()
    figure_edge_of_stability(table, ax_sharp)
    ax_sharp.legend()
    fig.tight_layout()
    return fig
