"""``torch-digits-orders``: orders in a real PyTorch training loop -- an MLP on the digits, one curve per order.

The same network (64-32-10 ReLU, float64, PyTorch's default initialization from ``init_seed``) and data (scikit-learn's
bundled digits, no download) trained by plain SGD with each order: with replacement, random reshuffling, single
shuffle, FlipFlop on RR, and GraB (online gradient balancing, THEORY.md section 6), the orders coming from
:mod:`optcore.torch`. Recorded at every epoch end: the full training loss and the test accuracy; the figure draws
their means over the seeds with 95% bands; the seeds change the orders only (the data split and the initial
network are fixed), so the bands are the orders' own randomness. GraB's paper reports training loss
GraB < RR < SS.

This module imports neither torch nor :mod:`optcore.torch`: only a running cell does, so ``optcore list`` works
without PyTorch.
"""

from __future__ import annotations

import pandas as pd

from ..experiments.params import Param
from ..experiments.plotting import band
from ..experiments.registry import Experiment, Timing
from ..experiments.stats import mean_band
from ..orders import ALIASES

#: the orders compared (optcore.torch.digits.ORDERS, repeated here so that this module does not import torch)
ORDERS = ("with_replacement", "random_reshuffling", "single_shuffle", "flipflop_rr", "grab")
LABELS = {
    "with_replacement": "with replacement",
    "random_reshuffling": "RR",
    "single_shuffle": "SS",
    "flipflop_rr": "FlipFlop-RR",
    "grab": "GraB",
}


def run_torch_digits(config: dict, seed: int) -> list[dict]:
    """One (order, seed) cell: the per-epoch training loss and test accuracy of one training run."""
    from ..torch.digits import train_digits  # needs PyTorch: imported by the running cell only

    return train_digits(
        config["order"],
        seed=seed,
        init_seed=config["init_seed"],
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        lr=config["lr"],
        hidden=(config["hidden"],),
        test_fraction=config["test_fraction"],
        split_seed=config["split_seed"],
    )


def summarize_torch_digits(table: pd.DataFrame) -> pd.DataFrame:
    """Per order at the last epoch: mean training loss with its 95% band and its ratio to RR's, test accuracy."""
    last = table[table["epoch"] == table["epoch"].max()]
    loss = mean_band(last, "order", "train_loss")
    acc = mean_band(last, "order", "test_accuracy")
    out = pd.DataFrame(
        {
            "order": loss["order"],
            "epoch": int(last["epoch"].iloc[0]),
            "seeds": loss["count"],
            "train_loss": loss["mean"],
            "train_loss_lo": loss["lo"],
            "train_loss_hi": loss["hi"],
            "test_accuracy": acc["mean"].to_numpy(),
            "test_accuracy_sem": acc["sem"].to_numpy(),
        }
    )
    rr = out.loc[out["order"] == "random_reshuffling", "train_loss"]
    if len(rr):
        out["train_loss_vs_rr"] = out["train_loss"] / float(rr.iloc[0])
    return out.reset_index(drop=True)


def figure_torch_digits(table: pd.DataFrame, ax) -> None:
    """Training loss per epoch (log), the same relative to RR's mean, and test accuracy; means with 95% bands."""
    fig = ax.get_figure()
    fig.set_size_inches(13.5, 4.4)
    cells = ax.get_subplotspec().subgridspec(1, 3, wspace=0.06)
    ax.set_subplotspec(cells[0])
    ax_rel, ax_acc = fig.add_subplot(cells[1]), fig.add_subplot(cells[2])
    orders = [o for o in ORDERS if o in set(table["order"])] + sorted(set(table["order"]) - set(ORDERS))
    reference = "random_reshuffling" if "random_reshuffling" in orders else orders[0]
    ref_mean = table[table["order"] == reference].groupby("epoch")["train_loss"].mean()
    for order in orders:
        rows = table[table["order"] == order]
        label = LABELS.get(order, order)
        loss = mean_band(rows, "epoch", "train_loss")
        band(ax, loss["epoch"], loss["mean"], loss["lo"], loss["hi"], label=label, log=True, marker=None)
        later = rows[rows["epoch"] > 0].assign(relative=lambda r: r["train_loss"] / r["epoch"].map(ref_mean))
        rel = mean_band(later, "epoch", "relative")
        band(ax_rel, rel["epoch"], rel["mean"], rel["lo"], rel["hi"], label=label, marker=None)
        acc = mean_band(rows[rows["epoch"] > 0], "epoch", "test_accuracy")
        band(ax_acc, acc["epoch"], acc["mean"], acc["lo"], acc["hi"], label=label, marker=None)
    seeds = int(table.groupby("order")["seed"].nunique().min())
    ax.set_yscale("log")
    for a in (ax, ax_rel, ax_acc):
        a.set_xlabel("epoch")
    ax.set_ylabel("training loss (full training set)")
    ax_rel.set_ylabel(f"training loss / {LABELS.get(reference, reference)}'s mean at that epoch")
    ax_acc.set_ylabel("test accuracy")
    ax.set_title("training loss")
    ax_rel.set_title(f"relative to {LABELS.get(reference, reference)}")
    ax_acc.set_title("test accuracy")
    fig.suptitle(
        f"PyTorch MLP 64-{table['hidden'].iloc[0]}-10 on the digits, plain SGD with each order: "
        f"means over {seeds} seeds, 95% bands"
    )


TORCH_DIGITS = Experiment(
    name="torch-digits-orders",
    summary="PyTorch MLP on the digits trained with each order (WR, RR, SS, FlipFlop-RR, GraB): loss and accuracy.",
    run=run_torch_digits,
    params=(
        Param("order", str, ORDERS, "order (a grid axis)", choices=ORDERS, aliases=ALIASES),
        Param("epochs", int, 20, "epochs", ge=1),
        Param("batch_size", int, 16, "minibatch size", ge=1),
        Param("lr", float, 0.2, "SGD step size (no momentum)", gt=0),
        Param("hidden", int, 32, "hidden width", ge=1),
        Param("test_fraction", float, 0.2, "fraction of the 1797 digits held out", gt=0, lt=1),
        Param("split_seed", int, 0, "seed of the train/test split", ge=0),
        Param(
            "init_seed", int, 0, "seed of the network's initialization (the same network for every order and seed)", ge=0
        ),
    ),
    timing=Timing(
        seconds=205.8,
        cpu_seconds=114.0,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 8); serial, no cache",
    ),
    version="1",
    seeds=8,
    figure=figure_torch_digits,
    summarize=summarize_torch_digits,
)
