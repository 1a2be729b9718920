"""Registered experiment ``coarse-gradient``: coarse-gradient training of quantized networks (Yin, Zhang, Lyu, Osher,
Qi, Xin 2019, "Blended coarse gradient descent for full quantization of deep neural networks"; RELATED.md 3).

Two parts (``part``: both by default, or one of them):

* ``gaussian``: the two-linear-layer model with Gaussian input (optcore.quantized.gaussian). ``runs`` random
  students (v, w) trained by coarse-gradient descent for each straight-through estimator (ReLU, identity,
  clipped ReLU), with v trained too and with v fixed at the teacher's v*: with the expected coarse gradient in
  closed form (ReLU, identity) and with Monte Carlo coarse gradients of ``samples`` draws per step (all three).
  Rows every ``every`` steps: the angle theta(t) to the teacher's w* (mean, median, and the fractions of students
  within ``near`` of w* and of -w*) and the population loss f(t).
* ``digits``: MLPs on scikit-learn's bundled digits (no download) with b-bit weights and b-bit activations, b in
  ``bits``, trained by BinaryConnect (rho = 0) and by BCGD (rho_0 = ``rho``, growing per epoch by ``rho_rate`` up
  to ``rho_max``), ``runs`` networks per variant in one ``run_sgd`` call, against the full-precision ReLU network;
  with ``alpha`` = ``learned`` or ``both``, also with the activation resolutions learned per hidden layer
  (``alpha_grad``, ``rate_factor``; starting from ``alpha1`` / ``alpha2``). Rows per variant and epoch: training
  loss and test accuracy of the quantized network (at Q(w)), the weight sign flips between consecutive epoch ends
  (mean over the networks, and their standard deviation), BCGD's rho of the epoch, and the learned resolutions
  (mean over the networks, per hidden layer).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..dynamics.digits import digits_split
from ..experiments.params import Param
from ..experiments.registry import Experiment, Timing
from ..nn import MLP, NetworkProblem
from ..sgd import run_sgd
from .gaussian import CLOSED_FORM_STES, STES, GaussianModel, coarse_gradient_descent
from .network import QuantizedNetworkProblem

PARTS = ("both", "gaussian", "digits")
BIT_CHOICES = ("1", "2", "1,2")
ALPHA_CHOICES = ("fixed", "learned", "both")
#: the weight quantizer of b-bit weights (the paper code's quant_dict: 1 -> binary, 2 -> ternary, 4 -> 4-bit)
WEIGHTS_OF_BITS = {1: ("binary", None), 2: ("ternary", None)}


def run_coarse_gradient(config: dict, seed: int) -> list[dict]:
    """The parts of the study that ``config["part"]`` names, for one seed; rows say their ``section``."""
    rows = []
    if config["part"] in ("both", "gaussian"):
        rows += [{"section": "gaussian", **r} for r in run_gaussian(config, seed)]
    if config["part"] in ("both", "digits"):
        rows += [{"section": "digits", **r} for r in run_digits(config, seed)]
    return rows


def run_gaussian(config: dict, seed: int) -> list[dict]:
    """Coarse-gradient descent on the Gaussian model, closed form and sampled, for each STE: with v trained too,
    and with v fixed at the teacher's v* (RELATED.md's QC-5 setting)."""
    m, n, runs, every = config["m"], config["n"], config["runs"], config["every"]
    rng = np.random.default_rng(seed)
    model = GaussianModel(rng.standard_normal(m), rng.standard_normal(n))
    v0, w0 = rng.standard_normal((runs, m)), rng.standard_normal((runs, n))
    near = config["near"]
    rows = []
    for train_v in (True, False):
        for ste in STES:
            for method in ("closed_form", "sampled"):
                if method == "closed_form" and ste not in CLOSED_FORM_STES:
                    continue
                out = coarse_gradient_descent(
                    model, v0 if train_v else model.v_star, w0, step_size=config["eta"], steps=config["steps"],
                    ste=ste, train_v=train_v, samples=None if method == "closed_form" else config["samples"], seed=rng,
                )
                for t in range(0, config["steps"] + 1, every):
                    theta, loss = out["theta"][:, t], out["loss"][:, t]
                    rows.append({
                        "v": "trained" if train_v else "teacher", "proxy": ste, "method": method, "step": t,
                        "theta_mean": float(theta.mean()), "theta_median": float(np.median(theta)),
                        "near_teacher": float(np.mean(theta < near)),
                        "near_flipped": float(np.mean(theta > np.pi - near)),
                        "loss_mean": float(loss.mean()), "loss_median": float(np.median(loss)),
                    })
    return rows


def _act(bits: int | None, config: dict) -> dict:
    """MLP keyword arguments of the hidden activation: full-precision ReLU, or b-bit quantized."""
    if bits is None:
        return {"activation": "relu"}
    return {"activation": "quantized", "act_bits": bits, "act_alpha": config[f"alpha{bits}"], "ste": config["ste"]}


def run_digits(config: dict, seed: int) -> list[dict]:
    """Full precision, then BinaryConnect and BCGD at each bit width (with fixed and / or learned resolutions):
    ``runs`` networks each, one run_sgd call."""
    X, y, X_test, y_test = digits_split(0.2, config["instance"])
    width = config["width"]
    widths = [64, width, width, 10]
    variants = [("full_precision", None, None, "-")]
    alphas = ("fixed", "learned") if config["alpha"] == "both" else (config["alpha"],)
    for bits in (int(b) for b in config["bits"].split(",")):
        for alpha in alphas:
            variants += [("binaryconnect", bits, 0.0, alpha), ("bcgd", bits, config["rho"], alpha)]
    rows = []
    for method, bits, rho, alpha in variants:
        mlp = MLP(widths, loss="softmax_ce", **_act(bits, config))
        if bits is None:
            problem = NetworkProblem(mlp, X, y)
            x0 = mlp.init(config["runs"], seed=seed)  # the same starting networks for every variant
        else:
            weights, weight_bits = WEIGHTS_OF_BITS[bits]
            growth = {"rho_rate": config["rho_rate"], "rho_max": config["rho_max"]} if rho else {}
            learned = ({"learn_alpha": True, "alpha_grad": config["alpha_grad"], "rate_factor": config["rate_factor"]}
                       if alpha == "learned" else {})
            problem = QuantizedNetworkProblem(
                mlp, X, y, weights=weights, weight_bits=weight_bits, rho=rho,
                quantize_layers="inner" if config["full_precision_ends"] else "all", **growth, **learned,
            )
            x0 = problem.init(config["runs"], seed=seed, **({"alpha": mlp.act_alpha} if learned else {}))
        res = run_sgd(problem, order="random_reshuffling", epochs=config["epochs"], step_size=config["lr"],
                      batch_size=config["batch"], x0=x0, seed=seed, record=("objective",), record_iterates=True)
        its = res.iterates
        if bits is None:
            flips = np.sum(np.sign(its[:, 1:]) != np.sign(its[:, :-1]), axis=-1)
            test = np.stack([mlp.accuracy(its[:, t], X_test, y_test) for t in range(its.shape[1])], axis=1)
            blend = np.zeros(its.shape[1])
        else:
            flips = problem.sign_flips(its)
            test = np.stack([problem.accuracy(its[:, t], X_test, y_test) for t in range(its.shape[1])], axis=1)
            blend = np.concatenate([[np.nan], problem.rho_schedule(config["epochs"])])  # rho of epoch t - 1 -> t
        learned_alpha = problem.alphas(its) if alpha == "learned" else np.full(its.shape[:2] + (2,), np.nan)
        for t in range(its.shape[1]):
            rows.append({
                "method": method, "bit_width": 32 if bits is None else bits, "resolution": alpha,
                "blend": float(rho or 0.0), "rho_epoch": float(blend[t]), "epoch": t,
                "alpha_1": float(np.mean(learned_alpha[:, t, 0])), "alpha_2": float(np.mean(learned_alpha[:, t, 1])),
                "train_loss": float(np.mean(res.objective[:, t])), "train_loss_std": float(np.std(res.objective[:, t])),
                "test_accuracy": float(np.mean(test[:, t])), "test_accuracy_std": float(np.std(test[:, t])),
                "flips": float(np.mean(flips[:, t - 1])) if t > 0 else float("nan"),
                "flips_std": float(np.std(flips[:, t - 1])) if t > 0 else float("nan"),
                "diverged": int(res.diverged.sum()),
            })
    return rows


def summarize_coarse_gradient(table: pd.DataFrame) -> pd.DataFrame:
    """Gaussian part: final mean angle, fractions of students near the teacher and near the flipped w = -w*, and
    the median loss, per (v, ste, method). Digits part: final training loss, final and best
    test accuracy, and the mean flips per epoch over the last quarter of the epochs, per (method, bits)."""
    parts = []
    g = table[table["section"] == "gaussian"]
    if len(g):
        last = g[g["step"] == g["step"].max()]
        cols = ["theta_mean", "near_teacher", "near_flipped", "loss_median"]
        s = last.groupby(["v", "proxy", "method"], sort=False)[cols].mean().reset_index()
        s = s.rename(columns={c: f"final_{c}" for c in cols})
        s.insert(0, "part", "gaussian")
        parts.append(s)
    d = table[table["section"] == "digits"]
    if len(d):
        K = d["epoch"].max()
        rows = []
        for (method, bits, alpha), grp in d.groupby(["method", "bit_width", "resolution"], sort=False):
            final = grp[grp["epoch"] == K]
            late = grp[grp["epoch"] > K - max(1, K // 4)]
            rows.append({
                "part": "digits", "method": method, "bit_width": int(bits), "resolution": alpha,
                "rho": float(grp["blend"].iloc[0]), "final_rho": float(final["rho_epoch"].mean()),
                "final_alpha_1": float(final["alpha_1"].mean()), "final_alpha_2": float(final["alpha_2"].mean()),
                "final_train_loss": float(final["train_loss"].mean()),
                "final_test_accuracy": float(final["test_accuracy"].mean()),
                "best_test_accuracy": float(grp.groupby("epoch")["test_accuracy"].mean().max()),
                "late_flips_per_epoch": float(late["flips"].mean()),
            })
        parts.append(pd.DataFrame(rows))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def figure_coarse_gradient(table: pd.DataFrame, axes) -> None:
    """Left: fraction of students whose angle to the teacher is small vs steps (solid closed form, dashed sampled). Middle: training loss of the
    quantized digits networks vs epochs. Right: weight sign flips per epoch."""
    ax_theta, ax_loss, ax_flips = axes
    g = table[table["section"] == "gaussian"]
    for i, ste in enumerate(STES if len(g) else ()):  # the part may not have run (--part digits)
        for method, style in (("closed_form", "-"), ("sampled", "--")):
            s = g[(g["v"] == "trained") & (g["proxy"] == ste) & (g["method"] == method)]
            s = s.groupby("step")["near_teacher"].mean()
            if len(s):
                ax_theta.plot(s.index, s.to_numpy(), style, color=f"C{i}", label=f"{ste} ({method})")
    ax_theta.set_xlabel("coarse-gradient step")
    ax_theta.set_ylabel(f"fraction of students within {g['near'].iloc[0] if len(g) else 0.1:g} rad of w*")
    ax_theta.set_title("Gaussian model, v and w trained")
    d = table[table["section"] == "digits"]
    styles = {"full_precision": "-", "binaryconnect": ":", "bcgd": "-"}
    groups = d.groupby(["method", "bit_width", "resolution"], sort=False) if len(d) else []
    for i, ((method, bits, alpha), grp) in enumerate(groups):
        s = grp.groupby("epoch")[["train_loss", "flips"]].mean()
        label = "full precision" if method == "full_precision" else f"{method} {int(bits)}-bit"
        label += ", learned alpha" if alpha == "learned" else ""
        ax_loss.semilogy(s.index, s["train_loss"], styles[method], color=f"C{i}", label=label)
        if method != "full_precision":
            ax_flips.plot(s.index[1:], s["flips"].iloc[1:], styles[method], color=f"C{i}", label=label)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss at Q(w)")
    ax_loss.set_title("digits MLP")
    ax_flips.set_xlabel("epoch")
    ax_flips.set_ylabel("weight sign flips per epoch")
    ax_flips.set_yscale("symlog", linthresh=1)
    ax_flips.set_title("digits MLP: sign flips")


COARSE_GRADIENT = Experiment(
    name="coarse-gradient",
    summary="Quantized nets: STE coarse gradients on the Gaussian model; BinaryConnect vs BCGD on digits (Yin et al. 2019).",
    run=run_coarse_gradient,
    params=(
        Param("part", str, "both", "which part: both, the Gaussian model or the digits MLPs", choices=PARTS),
        Param("m", int, 5, "Gaussian: rows of Z (output weights v in R^m)", ge=1, le=1000),
        Param("n", int, 10, "Gaussian: columns of Z (filter w in R^n)", ge=2, le=1000),
        Param("runs", int, 16, "random students (Gaussian) or networks per variant (digits)", ge=1, le=4096),
        Param("steps", int, 200, "Gaussian: coarse-gradient steps", ge=1, le=100_000),
        Param("eta", float, 0.5, "Gaussian: step size", gt=0, le=100),
        Param("samples", int, 200, "Gaussian: Monte Carlo draws of Z per sampled step", ge=2, le=1_000_000),
        Param("every", int, 5, "Gaussian: record every this many steps", ge=1, le=100_000),
        Param("near", float, 0.1, "Gaussian: angle (rad) within which a student counts as at w* (or at -w*)", gt=0,
              lt=1.5),
        Param("bits", str, "1,2", "digits: bit widths of weights and activations (1: binary, 2: ternary weights)",
              choices=BIT_CHOICES),
        Param("rho", float, 1e-5, "digits: BCGD blending weight rho of epoch 0 (BinaryConnect: 0; the paper's "
              "1e-5: rho >= about eta |g| freezes the weights, docs/quantized.md)", gt=0, le=1),
        Param("rho_rate", float, 1.0, "digits: BCGD's per-epoch growth of rho, rho <- min(rho_rate rho, rho_max)",
              gt=0, le=100),
        Param("rho_max", float, 0.01, "digits: the cap of BCGD's growing rho (the paper code's 0.01)", gt=0, le=1),
        Param("lr", float, 0.05, "digits: SGD step size", gt=0, le=100),
        Param("batch", int, 32, "digits: batch size", ge=1, le=1437),
        Param("epochs", int, 30, "digits: epochs", ge=1, le=10_000),
        Param("width", int, 64, "digits: width of both hidden layers", ge=1, le=64),
        Param("ste", str, "clipped_relu", "digits: straight-through estimator", choices=STES),
        Param("alpha1", float, 0.5, "digits: resolution of 1-bit activations", gt=0, le=100),
        Param("alpha2", float, 0.25, "digits: resolution of 2-bit activations", gt=0, le=100),
        Param("alpha", str, "both", "digits: activation resolutions fixed (alpha1, alpha2), learned per hidden "
              "layer from there, or both variants", choices=ALPHA_CHOICES),
        Param("alpha_grad", str, "mean", "digits, learned resolutions: the rule for d sigma / d alpha",
              choices=("ae", "pact", "mean")),
        Param("rate_factor", float, 0.01, "digits, learned resolutions: factor of their gradient before the clip "
              "to [-1, 1]", gt=0, le=100),
        Param("full_precision_ends", bool, False, "digits: keep the first and last layers' weights in full precision"),
        Param("instance", int, 0, "digits: seed of the train/test split", ge=0),
    ),
    timing=Timing(seconds=85.0, cpu_seconds=102.0,
                  machine="2-core x86-64 AVX2 shared with other jobs (load average about 2-3), no cache"),
    version="2",
    seeds=1,
    figure=figure_coarse_gradient,
    panels=3,
    summarize=summarize_coarse_gradient,
)
