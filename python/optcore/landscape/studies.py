"""Registered landscape experiments (THEORY.md 1.5 and 1.6).

* ``spurious-minima``: many-start GD + Newton on the closed-form population loss of a two-layer ReLU student
  (n neurons) learning an orthonormal teacher (k neurons, d = k); the fraction of starts that end at a certified
  spurious local minimum (loss > 1e-6, |grad| <= 1e-10, lambda_min > 0), for k = 6..20 and n = k, k + 1, k + 2,
  next to Safran and Shamir's (2018) published percentages.
* ``theorem1-path``: the Theorem-1 construction on a random data set for several two-slope activations: risk
  along the segment from the spurious local minimum (t = 0) to the strictly better point (t = 1), relative to the
  least-squares risk, with the closed forms checked in every row.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..experiments.params import Param
from ..experiments.registry import Experiment, Timing
from ..experiments.reporting import progress as cell_progress
from ..experiments.stats import wilson_interval
from .certificates import random_perturbation_test
from .constructions import theorem1
from .search import search_minima

#: Safran and Shamir (2018), % of GD runs ending at a spurious minimum, n = k (Table 1) and n = k + 1 (Table 2).
#: From a lecture slide reproducing the paper's tables (THEORY.md 1.6, a secondary source; not checked against the
#: PDF). Table 2 lists only rows with minima, and "none found for n >= k + 2".
PUBLISHED_PERCENT = {
    0: {
        6: 0.3,
        7: 5.5,
        8: 12.6,
        9: 21.8,
        10: 34.6,
        11: 45.5,
        12: 58.5,
        13: 73.0,
        14: 73.6,
        15: 80.3,
        16: 85.1,
        17: 89.7,
        18: 90.0,
        19: 93.4,
        20: 94.0,
    },
    1: {8: 0.1, 10: 0.1, 11: 0.1, 12: 0.3, 13: 1.5, 14: 5.5, 15: 10.1, 16: 18.0, 17: 20.9, 18: 36.9, 19: 49.1},
}


# --- spurious-minima ----------------------------------------------------------------------------------------------
def run_spurious(config: dict, seed: int) -> dict:
    """One (k, n = k + excess) cell: search from ``starts`` initializations and count the end points' labels."""
    k, excess = config["k"], config["excess"]
    started = time.perf_counter()
    r = search_minima(
        k, k + excess, starts=config["starts"], seed=seed, max_steps=config["max_steps"], progress=cell_progress
    )
    spurious = r.label == "spurious"
    undetermined = r.label == "undetermined"
    return {
        "n": k + excess,
        "spurious_pct": 100.0 * float(spurious.mean()),
        "global_pct": 100.0 * r.fraction("global"),
        "undetermined_pct": 100.0 * r.fraction("undetermined"),
        "not_converged_pct": 100.0 * float(np.mean(undetermined & (r.reason == "not converged"))),
        "saddle_pct": 100.0 * float(np.mean(undetermined & (r.reason == "saddle"))),
        "degenerate_pct": 100.0 * float(np.mean(undetermined & (r.reason == "degenerate"))),
        "distinct_spurious": len(r.distinct),
        "mean_lambda_min": float(r.lambda_min[spurious].mean()) if spurious.any() else float("nan"),
        "mean_loss": float(r.loss[spurious].mean()) if spurious.any() else float("nan"),
        "max_grad_spurious": float(r.grad_norm[spurious].max()) if spurious.any() else float("nan"),
        "seconds": time.perf_counter() - started,
    }


def published_percent(k: int, n: int) -> float:
    """Safran and Shamir's published % for (k, n), NaN outside their tables (k = n <= 20, n = k + 1 <= 20).

    Table 2 (n = k + 1) lists only the rows where minima were found: the others in its range are 0; for
    n >= k + 2 the paper reports none found (taken as 0 for n <= 20).
    """
    if n == k:
        return PUBLISHED_PERCENT[0].get(k, float("nan"))
    if 6 <= k and n <= 20 and n >= k + 1:
        return PUBLISHED_PERCENT[1].get(k, 0.0) if n == k + 1 else 0.0
    return float("nan")


def summarize_spurious(table: pd.DataFrame) -> pd.DataFrame:
    """Per (k, n): percentages pooled over seeds, with the total number of starts and the published value.

    Only reproducible numbers: the cells' wall times stay in the raw table (``seconds``), out of the summary.
    """
    rows = []
    for (_excess, k), g in table.groupby(["excess", "k"], sort=True):
        w = np.full(len(g), float(g["starts"].iloc[0]))
        count = float(np.sum(w * g["spurious_pct"]) / 100)
        total = float(w.sum())
        p = count / total
        rows.append(
            {
                "k": k,
                "n": int(g["n"].iloc[0]),
                "starts": int(total),
                "spurious_pct": 100 * p,
                # binomial standard error of the percentage, and the 95% Wilson interval (never below 0 or
                # above 100, and not empty at 0 or all starts)
                "se_pct": 100 * float(np.sqrt(p * (1 - p) / total)),
                "wilson_lo_pct": 100 * float(wilson_interval(round(count), int(total))[0]),
                "wilson_hi_pct": 100 * float(wilson_interval(round(count), int(total))[1]),
                "published_pct": published_percent(int(k), int(g["n"].iloc[0])),
                "undetermined_pct": float(np.sum(w * g["undetermined_pct"]) / total),
                "not_converged_pct": float(np.sum(w * g["not_converged_pct"]) / total),
                "distinct": int(g["distinct_spurious"].max()),
                "mean_lambda_min": float(np.nanmean(g["mean_lambda_min"]))
                if g["mean_lambda_min"].notna().any()
                else np.nan,
                "mean_loss": float(np.nanmean(g["mean_loss"])) if g["mean_loss"].notna().any() else np.nan,
                # no cell time here: the summary holds what the same seed reproduces; each cell's wall time is the
                # raw table's `seconds` column (table.parquet), and the run's total is printed under the table
            }
        )
    return pd.DataFrame(rows)


def figure_spurious(table: pd.DataFrame, ax) -> None:
    """Spurious fraction vs k, one line per over-parameterization, with 95% Wilson intervals (inside [0, 100] and
    not empty at 0 of N starts) and the published points."""
    s = summarize_spurious(table)
    for excess, g in s.groupby(s["n"] - s["k"], sort=True):
        label = "n = k" if excess == 0 else f"n = k + {excess}"
        yerr = np.array([g["spurious_pct"] - g["wilson_lo_pct"], g["wilson_hi_pct"] - g["spurious_pct"]])
        dodge = 0.12 * (excess - 1)  # side by side, so that one series' bars at 0% do not hide another's points
        line = ax.errorbar(
            g["k"] + dodge,
            g["spurious_pct"],
            yerr=np.maximum(yerr, 0.0),
            marker="o",
            capsize=3,
            label=f"optcore, {label} ({int(g['starts'].iloc[0])} starts, 95% Wilson interval)",
        )
        pub = g[g["published_pct"].notna()]
        if len(pub):
            ax.plot(
                pub["k"] + dodge,
                pub["published_pct"],
                linestyle="none",
                marker="x",
                markersize=8,
                color=line[0].get_color(),
                label=f"Safran-Shamir 2018, {label} (secondary source)",
            )
    ax.set_xlabel("teacher neurons k (input dimension d = k)")
    ax.set_ylabel("% of starts ending at a spurious minimum")
    ax.set_ylim(-3, 132)  # headroom: the legend sits above the 100% line, clear of the points
    ax.set_yticks(range(0, 101, 20))
    ax.legend(fontsize="x-small", loc="upper center", ncol=2)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Spurious minima of 2-layer ReLU nets (GD + Newton)")


SPURIOUS = Experiment(
    name="spurious-minima",
    summary="Fraction of GD starts ending at certified spurious minima of 2-layer ReLU nets, k = 6..20, n = k..k+2.",
    run=run_spurious,
    params=(
        Param("k", int, tuple(range(6, 21)), "teacher neurons = input dimension (a grid axis)", ge=1),
        Param("excess", int, (0, 1, 2), "student neurons n = k + excess (a grid axis)", ge=0),
        Param("starts", int, 100, "random initializations W_ij ~ N(0, 1/k) per cell and seed", ge=1),
        Param("max_steps", int, 30_000, "GD steps at most (step 5/k), Newton polishing below |grad| = 1e-5", ge=0),
    ),
    timing=Timing(
        seconds=319.0,
        machine=(
            "one core of a 2-core x86-64 AVX2 machine, OPENBLAS_NUM_THREADS=1, serial, no other jobs; with other "
            "jobs sharing the machine (load average 8-22) it took 862 s serially and 579-610 s with --workers 2"
        ),
    ),
    version="3",
    seeds=1,
    figure=figure_spurious,
    summarize=summarize_spurious,
)


# --- theorem1-path ------------------------------------------------------------------------------------------------
def validate_no_affine_fit(config: dict) -> None:
    """Theorem 1 needs data no affine map fits (condition C1.1): more points than dx + 1."""
    if config["m"] <= config["dx"] + 1:
        raise ValueError(
            f"m must be > dx + 1 = {config['dx'] + 1} (with m <= dx + 1 points an affine map fits the data: "
            f"condition C1.1 of Theorem 1 fails), got m = {config['m']}"
        )


_SLOPES = {"relu": (1.0, 0.0), "leaky": (1.0, 0.01), "slight": (1.001, 1.0)}


def run_theorem1_path(config: dict, seed: int) -> list:
    """The Theorem-1 pair on a random data set; risk along the segment from the local minimum to the better point."""
    m, dx, d1 = config["m"], config["dx"], config["d1"]
    s_pos, s_neg = _SLOPES[config["activation"]]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, dx))
    y = np.sin(X.sum(axis=1))
    c = theorem1(X, y, d1=d1, slopes=(s_pos, s_neg))
    risk = c.mlp.loss_value
    risk_min, risk_better = float(risk(c.local_min, X, y)), float(risk(c.better, X, y))
    pert = random_perturbation_test(
        lambda p: risk(p, X, y), c.local_min, radii=(1e-3,), samples=config["perturbations"], seed=seed
    )
    ts = np.linspace(-0.25, 1.25, config["points"])
    path = risk(c.local_min[None, :] + ts[:, None] * (c.better - c.local_min)[None, :], X, y)
    common = {
        "ls_risk": c.ls_risk,
        "risk_error_min": abs(risk_min - c.ls_risk) / c.ls_risk,
        "risk_error_better": abs(risk_better - c.better_risk) / c.better_risk,
        "improvement": (c.ls_risk - risk_better) / c.ls_risk,
        "perturbation_decreases": int(pert.decreases.sum()),
    }
    return [
        {"t": float(t), "relative_risk": float((p - c.ls_risk) / c.ls_risk), **common}
        for t, p in zip(ts, path, strict=True)
    ]


def summarize_theorem1_path(table: pd.DataFrame) -> pd.DataFrame:
    """Per activation: the closed-form errors (max over seeds), the relative improvement and perturbation decreases."""
    cols = ["risk_error_min", "risk_error_better", "perturbation_decreases"]
    out = table.groupby("activation", sort=False)[cols].max()
    out["improvement"] = table.groupby("activation", sort=False)["improvement"].mean()
    out["seeds"] = table.groupby("activation", sort=False)["seed"].nunique()
    return out.reset_index()


def figure_theorem1_path(table: pd.DataFrame, ax) -> None:
    """(risk - l0) / l0 along the segment, one curve per activation (seed 0 of each), with the closed-form risks
    of the two end points (diamonds)."""
    error = 0.0
    for activation, g in table.groupby("activation", sort=False):
        first = g[g["seed"] == g["seed"].iloc[0]]
        s_pos, s_neg = _SLOPES[activation]
        (line,) = ax.plot(first["t"], first["relative_risk"], label=f"{activation} (s+ = {s_pos:g}, s- = {s_neg:g})")
        # the closed forms (THEORY.md 1.2): risk l0 at t = 0, l0 - 2 c gamma R + (m/2) c^2 gamma^2 at t = 1; the
        # rows carry the measured risks' relative errors against them
        error = max(error, float(first["risk_error_min"].iloc[0]), float(first["risk_error_better"].iloc[0]))
        ax.plot(
            [0.0, 1.0],
            [0.0, -float(first["improvement"].iloc[0])],
            linestyle="none",
            marker="D",
            markersize=9,
            markerfacecolor="none",
            color=line.get_color(),
        )
    ax.plot(
        [],
        [],
        "D",
        markersize=9,
        markerfacecolor="none",
        color="0.35",
        label=f"closed-form risks at t = 0 and 1 (measured: rel. error <= {error:.0e})",
    )
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.axvline(0.0, color="0.7", linestyle=":", linewidth=0.8)
    ax.axvline(1.0, color="0.7", linestyle=":", linewidth=0.8)
    ax.set_yscale("symlog", linthresh=1e-6)
    ax.set_xlabel("t: local minimum (t = 0) to strictly better point (t = 1)")
    ax.set_ylabel("(risk - l0) / l0, l0 = least-squares risk (symlog)")
    ax.set_title("Theorem 1: a spurious local minimum and a strictly better point")


THEOREM1_PATH = Experiment(
    name="theorem1-path",
    summary="Theorem-1 spurious minimum vs strictly better point on random data: closed forms and the risk between.",
    run=run_theorem1_path,
    params=(
        Param(
            "activation",
            str,
            ("relu", "leaky", "slight"),
            "two-slope activation: relu (1, 0), leaky (1, 0.01), slight (1.001, 1)",
            choices=("relu", "leaky", "slight"),
        ),
        Param("m", int, 40, "data points (x ~ N(0, I), y = sin(sum x))", ge=2),
        Param("dx", int, 3, "input dimension", ge=1),
        Param("d1", int, 4, "hidden width (>= 2)", ge=2),
        Param("points", int, 121, "points on the segment t in [-0.25, 1.25]", ge=2),
        Param("perturbations", int, 10_000, "random perturbations of norm <= 1e-3 around the minimum", ge=1),
    ),
    timing=Timing(
        seconds=19.8,
        cpu_seconds=2.7,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 16); serial, no cache",
    ),
    validate=validate_no_affine_fit,
    version="1",
    seeds=3,
    figure=figure_theorem1_path,
    summarize=summarize_theorem1_path,
)


# --- landscape-pca ------------------------------------------------------------------------------------------------
def run_landscape_pca(config: dict, seed: int) -> list:
    """Full-batch GD on a small tanh network; the loss on the PCA plane of its trajectory, and Hessian extremes.

    Rows of kind ``grid`` hold the loss on the plane, rows of kind ``path`` the trajectory's coordinates and
    projection errors; every row carries the plane's explained variance and the end point's Lanczos and dense
    Hessian extremes.
    """
    from ..nn import MLP, NetworkProblem
    from ..sgd import run_sgd
    from .slices import hessian_extremes, mlp_hvp, pca_plane, plane

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((config["m"], config["dx"]))
    y = np.sin(X.sum(axis=1))
    mlp = MLP([config["dx"], config["width"], 1], activation="tanh")
    res = run_sgd(
        NetworkProblem(mlp, X, y),
        order="incremental",
        epochs=config["steps"],
        step_size=config["lr"],
        batch_size=config["m"],
        x0=mlp.init(1, seed=seed % 2**63)[0],
        runs=1,
        seed=seed,
        record_every=1,
        record_iterates=True,
        threads=1,
    )
    traj = res.iterates[0]
    pca = pca_plane(traj)
    pad = 0.25 * np.ptp(pca.coords, axis=0)
    box = (
        *(pca.coords[:, 0].min() - pad[0], pca.coords[:, 0].max() + pad[0]),
        *(pca.coords[:, 1].min() - pad[1], pca.coords[:, 1].max() + pad[1]),
    )
    box = (box[0], box[1], box[2], box[3])
    surf = plane(
        lambda p: mlp.loss_value(p, X, y), pca.origin, *pca.directions, span=box, resolution=config["resolution"]
    )
    top, low = hessian_extremes(mlp_hvp(mlp, pca.origin, X, y), mlp.n_params, k=1)
    dense = np.linalg.eigvalsh(mlp.hessian(pca.origin, X, y))
    common = {
        "explained_1": float(pca.explained[0]),
        "explained_2": float(pca.explained[1]),
        "max_projection_error": float(pca.projection_error.max()),
        "lanczos_max": float(top[0]),
        "lanczos_min": float(low[0]),
        "dense_max": float(dense[-1]),
        "dense_min": float(dense[0]),
        "final_loss": float(res.objective[0, -1]),
    }
    rows = [
        {
            "kind": "grid",
            "a": float(a),
            "b": float(b),
            "loss": float(surf.losses[i, j]),
            "projection_error": 0.0,
            **common,
        }
        for i, a in enumerate(surf.alphas)
        for j, b in enumerate(surf.betas)
    ]
    losses = mlp.loss_value(traj, X, y)
    rows += [
        {"kind": "path", "a": float(c[0]), "b": float(c[1]), "loss": float(f), "projection_error": float(e), **common}
        for c, f, e in zip(pca.coords, losses, pca.projection_error, strict=True)
    ]
    return rows


def summarize_landscape_pca(table: pd.DataFrame) -> pd.DataFrame:
    """Per seed: explained variance, projection error, final loss and Hessian extremes (Lanczos vs dense)."""
    cols = [
        "explained_1",
        "explained_2",
        "max_projection_error",
        "final_loss",
        "lanczos_max",
        "dense_max",
        "lanczos_min",
        "dense_min",
    ]
    return table.groupby("seed", sort=True)[cols].first().reset_index()


def figure_landscape_pca(table: pd.DataFrame, ax) -> None:
    """Loss contours on the PCA plane of the first seed's trajectory, with the trajectory drawn on them."""
    first = table[table["seed"] == table["seed"].iloc[0]]
    grid = first[first["kind"] == "grid"]
    a, b = np.unique(grid["a"]), np.unique(grid["b"])
    Z = grid.sort_values(["a", "b"])["loss"].to_numpy().reshape(a.size, b.size)
    levels = np.geomspace(max(Z.min(), 1e-12), Z.max(), 25)
    cs = ax.contourf(a, b, Z.T, levels=levels, norm=_log_norm(levels), cmap="viridis")
    # a contour set's colorbar ticks at its levels by default: with log-spaced levels that gave two odd labels
    # (1.13116e-2, 1.1472e-1); round ticks at 1, 2, 5 x 10^k instead
    cbar = ax.figure.colorbar(cs, ax=ax, label="training loss (squared loss, log scale)")
    decades = np.arange(np.floor(np.log10(levels[0])), np.ceil(np.log10(levels[-1])) + 1)
    ticks = [m * 10.0**e for e in decades for m in (1.0, 2.0, 5.0) if levels[0] <= m * 10.0**e <= levels[-1]]
    cbar.set_ticks(ticks, labels=[f"{t:.2g}" for t in ticks])
    cbar.ax.minorticks_off()
    path = first[first["kind"] == "path"]
    ax.plot(
        path["a"],
        path["b"],
        "w.-",
        markersize=3,
        linewidth=1,
        label=f"GD trajectory (off-plane distance <= {path['projection_error'].max():.2f} x max |theta_t - end|)",
    )
    ax.plot(path["a"].iloc[0], path["b"].iloc[0], "ro", label="start")
    ax.plot(0.0, 0.0, "r*", markersize=12, label="end (plane origin)")
    ax.set_xlabel(f"PC 1 coordinate, parameter-space distance ({100 * first['explained_1'].iloc[0]:.1f}% of variance)")
    ax.set_ylabel(f"PC 2 coordinate ({100 * first['explained_2'].iloc[0]:.1f}% of variance)")
    ax.set_title("Loss on the PCA plane of a GD trajectory")


def _log_norm(levels):
    from matplotlib.colors import LogNorm

    return LogNorm(vmin=levels[0], vmax=levels[-1])


PCA = Experiment(
    name="landscape-pca",
    summary="GD trajectory of a small tanh net on the loss contours of its PCA plane; Lanczos Hessian extremes.",
    run=run_landscape_pca,
    params=(
        Param("m", int, 64, "data points (x ~ N(0, I), y = sin(sum x))", ge=1),
        Param("dx", int, 3, "input dimension", ge=1),
        Param("width", int, 8, "hidden width", ge=1),
        Param("steps", int, 300, "full-batch GD steps (the PCA of the trajectory needs >= 2)", ge=2),
        Param("lr", float, 0.5, "step size", gt=0),
        Param("resolution", int, 41, "grid points per axis of the plane", ge=2),
    ),
    timing=Timing(
        seconds=33.2,
        cpu_seconds=2.6,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 22); serial, no cache",
    ),
    version="1",
    seeds=1,
    figure=figure_landscape_pca,
    summarize=summarize_landscape_pca,
)


# --- theorem1-plateau ---------------------------------------------------------------------------------------------
def run_theorem1_plateau(config: dict, seed: int) -> dict:
    """GD from He initializations on data no affine map fits: how many nets end near the least-squares risk l0.

    THEORY.md 1.5 (ii): the Theorem-1 minima sit at risk l0; a net whose final risk is within ``band`` of l0 (in
    relative terms) is counted on the least-squares plateau, below it as better, above it as worse.
    """
    from ..nn import MLP, NetworkProblem
    from ..sgd import run_sgd
    from .constructions import least_squares_fit

    m, dx, d1 = config["m"], config["dx"], config["d1"]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, dx))
    y = np.sin(X.sum(axis=1))
    _, _, l0 = least_squares_fit(X, y)
    mlp = MLP([dx, d1, 1], activation="leaky", slopes=_SLOPES[config["activation"]], reduction="sum")
    res = run_sgd(
        NetworkProblem(mlp, X, y),
        order="incremental",
        epochs=config["epochs"],
        step_size=config["lr"] / m,  # the summed loss: step lr / m is GD with step lr on the mean loss
        batch_size=m,
        x0=mlp.init(config["nets"], seed=seed % 2**63),
        runs=config["nets"],
        seed=seed,
        threads=1,
    )
    risk = np.asarray(res.objective[:, -1], dtype=np.float64)
    finite = np.isfinite(risk)
    rel = (risk[finite] - l0) / l0
    band = config["band"]
    return {
        "plateau": float(np.sum(np.abs(rel) <= band) / risk.size),
        "better": float(np.sum(rel < -band) / risk.size),
        "worse": float(np.sum(rel > band) / risk.size),
        "diverged": float(np.mean(~finite)),
        "median_relative_risk": float(np.median(rel)) if rel.size else float("nan"),
    }


def summarize_theorem1_plateau(table: pd.DataFrame) -> pd.DataFrame:
    """Fractions per (activation, d1), averaged over seeds (data sets)."""
    cols = ["plateau", "better", "worse", "diverged", "median_relative_risk"]
    out = table.groupby(["activation", "d1"], sort=False)[cols].mean().reset_index()
    out.insert(2, "seeds", table.groupby(["activation", "d1"], sort=False).size().to_numpy())
    return out


def figure_theorem1_plateau(table: pd.DataFrame, ax) -> None:
    """Fraction of GD-trained nets ending on the least-squares plateau vs width, with 95% Wilson intervals over
    all nets of a cell (nets x seeds)."""
    s = summarize_theorem1_plateau(table)
    counts = table.assign(on=np.round(table["plateau"] * table["nets"]))
    counts = counts.groupby(["activation", "d1"], sort=False).agg(on=("on", "sum"), nets=("nets", "sum")).reset_index()
    s = s.merge(counts, on=["activation", "d1"])
    lo, hi = wilson_interval(s["on"].astype(int), s["nets"].astype(int))
    for activation, g in s.assign(lo=lo, hi=hi).groupby("activation", sort=False):
        s_pos, s_neg = _SLOPES[activation]
        # relu and leaky often coincide: different marker sizes keep both visible
        style = {"relu": ("o", 10), "leaky": ("s", 5), "slight": ("^", 7)}[activation]
        ax.errorbar(
            g["d1"],
            g["plateau"],
            yerr=np.maximum([g["plateau"] - g["lo"], g["hi"] - g["plateau"]], 0.0),
            marker=style[0],
            markersize=style[1],
            capsize=3,
            label=f"{activation} (s+ = {s_pos:g}, s- = {s_neg:g}), {int(g['nets'].iloc[0])} nets per width",
        )
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(s["d1"].unique()), [str(d) for d in sorted(s["d1"].unique())])
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("hidden width d1")
    ax.set_ylabel(f"fraction of nets with |risk - l0| / l0 <= {table['band'].iloc[0]:g} (95% Wilson)")
    ax.set_title("GD end points on the least-squares plateau of Theorem 1")


PLATEAU = Experiment(
    name="theorem1-plateau",
    summary="How often full-batch GD on one-hidden-layer two-slope nets ends at the least-squares risk, vs width.",
    run=run_theorem1_plateau,
    params=(
        Param(
            "activation",
            str,
            ("relu", "leaky", "slight"),
            "two-slope activation: relu (1, 0), leaky (1, 0.01), slight (1.001, 1)",
            choices=("relu", "leaky", "slight"),
        ),
        Param("d1", int, (2, 4, 8, 16), "hidden width (a grid axis)", ge=1),
        Param("m", int, 40, "data points (x ~ N(0, I), y = sin(sum x))", ge=2),
        Param("dx", int, 3, "input dimension", ge=1),
        Param("nets", int, 32, "networks trained per cell (He initialization)", ge=1),
        Param("epochs", int, 3000, "full-batch GD steps", ge=1),
        Param("lr", float, 0.05, "GD step size on the mean loss", gt=0),
        Param("band", float, 1e-3, "relative distance to l0 that counts as on the plateau", gt=0),
    ),
    timing=Timing(
        seconds=66.7,
        cpu_seconds=8.3,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 16); serial, no cache",
    ),
    validate=validate_no_affine_fit,
    version="1",
    seeds=2,
    figure=figure_theorem1_plateau,
    summarize=summarize_theorem1_plateau,
)
