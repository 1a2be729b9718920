"""Registered experiment ``dynamics-digits``: the PNAS normalized train-vs-test loss relation (THEORY.md 5.3).

scikit-learn's bundled 8x8 digits (1797 images, no download), a bias-free ReLU MLP with softmax cross-entropy,
trained by SGD (random reshuffling) in the C++ engine. Networks differ by the scale of their initialization and by
a pretraining phase on labels of which a fraction ``corruption`` was replaced by random ones; all are then trained
on the true labels. Each layer is then divided by its Frobenius norm (V_k = W_k / ||W_k||_F) and the cross-entropy
of the normalized net is computed on the training and the test split. The PNAS claim: across networks,
normalized test loss ~ a + b x normalized train loss (a line), while the unnormalized losses show no such relation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.params import Param
from ..experiments.registry import Experiment, Timing
from ..nn import MLP, NetworkProblem
from ..sgd import run_sgd


def digits_split(test_fraction: float, seed: int):
    """Standardized digits (pixels / 16, centred) and a seeded train/test split."""
    from sklearn.datasets import load_digits  # scikit-learn is a runtime dependency; imported here to keep
    #                                            `import optcore` fast

    data = load_digits()
    X = data.data / 16.0
    X = X - X.mean(axis=0)
    y = data.target.astype(np.float64)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = perm[:n_test], perm[n_test:]
    return X[train], y[train], X[test], y[test]


def normalize_layers(mlp: MLP, params: np.ndarray) -> np.ndarray:
    """Every layer divided by its Frobenius norm (bias-free nets)."""
    return mlp.pack([(W / np.linalg.norm(W), None) for W, _ in mlp.unpack(params)])


def validate_digits(config: dict) -> None:
    """The initialization scales run from scale_min up to scale_max."""
    if config["scale_min"] > config["scale_max"]:
        raise ValueError(f"scale_min ({config['scale_min']}) must be <= scale_max ({config['scale_max']})")


def run_digits(config: dict, seed: int) -> list[dict]:
    """One corruption level: ``nets`` networks (one per init scale) pretrained on corrupted labels, then trained."""
    Xtr, ytr, Xte, yte = digits_split(0.4, config["split_seed"])
    width = config["width"]
    mlp = MLP([64, width, width, 10], activation="relu", bias=False, loss="softmax_ce")
    scales = np.geomspace(config["scale_min"], config["scale_max"], config["nets"])
    x0 = np.concatenate([mlp.init(1, scale=float(s), seed=seed + i) for i, s in enumerate(scales)])
    rng = np.random.default_rng(seed)
    corrupted = ytr.copy()
    flip = rng.random(len(ytr)) < config["corruption"]
    corrupted[flip] = rng.integers(0, 10, flip.sum())
    common = dict(
        order="random_reshuffling",
        batch_size=32,
        step_size=config["lr"],
        runs=len(scales),
        seed=seed,
        record=("objective",),
    )
    x = x0
    if config["corruption"] > 0 and config["pretrain_epochs"] > 0:
        x = run_sgd(NetworkProblem(mlp, Xtr, corrupted), epochs=config["pretrain_epochs"], x0=x, **common).x
    res = run_sgd(NetworkProblem(mlp, Xtr, ytr), epochs=config["epochs"], x0=x, **common)
    rows = []
    for r, s in enumerate(scales):
        p = res.x[r]
        v = normalize_layers(mlp, p)
        rows.append(
            {
                "init_scale": float(s),
                "train_accuracy": float(mlp.accuracy(p, Xtr, ytr)),
                "test_error": float(1 - mlp.accuracy(p, Xte, yte)),
                "train_loss": float(mlp.loss_value(p, Xtr, ytr)),
                "test_loss": float(mlp.loss_value(p, Xte, yte)),
                "normalized_train_loss": float(mlp.loss_value(v, Xtr, ytr)),
                "normalized_test_loss": float(mlp.loss_value(v, Xte, yte)),
                "diverged": int(res.diverged[r]),
            }
        )
    return rows


def linear_fit(x, y) -> tuple[float, float, float]:
    """Least-squares line y = a + b x: (a, b, R^2)."""
    b, a = np.polyfit(x, y, 1)
    resid = y - (a + b * x)
    return float(a), float(b), float(1 - np.sum(resid**2) / np.sum((y - np.mean(y)) ** 2))


def summarize_digits(table: pd.DataFrame) -> pd.DataFrame:
    """Line fits of test against train loss, normalized and unnormalized, over all networks that fit the data."""
    fit = table[(table["train_accuracy"] == 1.0) & (table["diverged"] == 0)]
    rows = []
    for kind, (xc, yc) in {
        "normalized": ("normalized_train_loss", "normalized_test_loss"),
        "unnormalized": ("train_loss", "test_loss"),
    }.items():
        if len(fit) >= 3:
            a, b, r2 = linear_fit(fit[xc].to_numpy(), fit[yc].to_numpy())
        else:
            a = b = r2 = float("nan")
        rows.append(
            {
                "losses": kind,
                "networks": len(fit),
                "of": len(table),
                "intercept": a,
                "slope": b,
                "r2": r2,
                "test_error_min": fit["test_error"].min(),
                "test_error_max": fit["test_error"].max(),
            }
        )
    return pd.DataFrame(rows)


def figure_digits(table: pd.DataFrame, ax) -> None:
    """Normalized test loss against normalized train loss, one point per network, coloured by corruption.

    Both axes span the same range, so the y = x line (the PNAS relation with slope 1, no offset) is the diagonal;
    plain tick labels (no offset) and a note give the range, which is narrow: all normalized losses sit near
    ln 10, the cross-entropy of a zero output.
    """
    fit = table[(table["train_accuracy"] == 1.0) & (table["diverged"] == 0)]
    x, y = fit["normalized_train_loss"].to_numpy(), fit["normalized_test_loss"].to_numpy()
    sc = ax.scatter(
        x,
        y,
        c=fit["corruption"],
        cmap="viridis",
        s=20 + 40 * np.log10(fit["init_scale"] / fit["init_scale"].min() + 1),
        zorder=3,
    )
    ax.figure.colorbar(sc, ax=ax, label="label corruption in pretraining (fraction)")
    both = np.concatenate([x, y, [np.log(10.0)]])
    lo, hi = float(both.min()), float(both.max())
    pad = 0.08 * (hi - lo) if hi > lo else 0.01
    lims = (lo - pad, hi + pad)
    ax.plot(lims, lims, color="0.4", linewidth=1, label="y = x")
    ax.axvline(np.log(10.0), color="0.7", linestyle=":", linewidth=1)
    ax.axhline(np.log(10.0), color="0.7", linestyle=":", linewidth=1, label="ln 10 (zero output)")
    if len(fit) >= 3:
        a, b, r2 = linear_fit(x, y)
        xs = np.linspace(x.min(), x.max(), 20)
        ax.plot(xs, a + b * xs, "r--", label=f"fit: {a:.3f} + {b:.2f} x, R^2 {r2:.2f}")
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    ax.set_aspect("equal", adjustable="box")
    ax.ticklabel_format(useOffset=False)
    ax.set_xlabel(f"normalized train cross-entropy (nats; data span {x.max() - x.min():.3f})")
    ax.set_ylabel(f"normalized test cross-entropy (nats; data span {y.max() - y.min():.3f})")
    ax.set_title(f"Digits: {len(fit)} of {len(table)} bias-free ReLU MLPs at 100% train accuracy", fontsize="medium")


DIGITS = Experiment(
    name="dynamics-digits",
    summary="PNAS relation on sklearn digits: normalized test vs train cross-entropy across init scales, corruption.",
    run=run_digits,
    params=(
        Param(
            "corruption", float, (0.0, 0.5, 1.0), "fraction of random labels in pretraining (a grid axis)", ge=0, le=1
        ),
        Param("nets", int, 4, "networks per cell, one per initialization scale", ge=1),
        Param("scale_min", float, 0.5, "smallest He-initialization scale", gt=0),
        Param("scale_max", float, 2.0, "largest He-initialization scale", gt=0),
        Param("width", int, 64, "width of both hidden layers", ge=1),
        Param("pretrain_epochs", int, 30, "SGD epochs on the corrupted labels", ge=0),
        Param("epochs", int, 100, "SGD epochs on the true labels", ge=1),
        Param("lr", float, 0.05, "SGD step size (batch 32, random reshuffling)", gt=0),
        Param("split_seed", int, 0, "seed of the train/test split (60/40)", ge=0),
    ),
    timing=Timing(
        seconds=97.6,
        cpu_seconds=8.5,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 21); serial, no cache",
    ),
    validate=validate_digits,
    version="1",
    seeds=1,
    figure=figure_digits,
    summarize=summarize_digits,
)
