"""The ``torch-digits-orders`` study on a tiny grid: its table, determinism, summary and figure."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="optcore.torch needs PyTorch (pip install optcore[torch])")

from optcore.experiments import plotting  # noqa: E402
from optcore.experiments.sweep import run_sweep  # noqa: E402
from optcore.shuffling.studies_torch import ORDERS, TORCH_DIGITS  # noqa: E402
from optcore.torch.digits import ORDERS as TRAINED_ORDERS  # noqa: E402
from optcore.torch.digits import train_digits  # noqa: E402

TINY = {"order": ["random_reshuffling", "grab"], "epochs": 2, "batch_size": 128, "hidden": 8}


def test_tiny_sweep_table_summary_and_figure():
    table = run_sweep(TORCH_DIGITS, TINY, seeds=2).table
    assert len(table) == 2 * 2 * 3  # orders x seeds x (epochs + 1)
    assert set(table["order"]) == set(TINY["order"])
    assert np.all(np.isfinite(table[["train_loss", "test_loss", "test_accuracy"]].to_numpy()))
    first = table[table["epoch"] == 0]
    assert first["train_loss"].nunique() == 1  # every order starts from the same network
    last = table[table["epoch"] == 2]
    assert np.all(last["train_loss"].to_numpy() < first["train_loss"].iloc[0])  # training trains
    summary = TORCH_DIGITS.summarize(table)
    assert list(summary["order"]) == TINY["order"]
    assert summary.loc[summary["order"] == "random_reshuffling", "train_loss_vs_rr"].item() == 1.0
    fig = plotting.draw(TORCH_DIGITS, table)
    assert len(fig.axes) == 3 and all(ax.get_xlabel() == "epoch" for ax in fig.axes)


def test_same_seed_same_numbers():
    args = dict(seed=2**62 + 5, epochs=1, batch_size=100, lr=0.2, hidden=(8,))
    for order in ("single_shuffle", "grab"):
        assert train_digits(order, **args) == train_digits(order, **args)
    assert train_digits("grab", **args) != train_digits("grab", **{**args, "seed": 6})


def test_study_lists_the_trained_orders_and_bad_order_is_named():
    assert ORDERS == TRAINED_ORDERS
    with pytest.raises(ValueError, match="order must be one of"):
        train_digits("ig", seed=0, epochs=1, batch_size=10, lr=0.1)
