"""A real PyTorch training loop driven by optcore's samplers: a small MLP on scikit-learn's bundled digits.

Used by the ``torch-digits-orders`` study (:mod:`optcore.shuffling.studies_torch`): the same network, data and
initialization trained with each order, the full training loss and the test accuracy recorded at every epoch end.
Everything is float64 on one thread, so the same seed gives the same numbers.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import integer, positive_float
from .gradients import per_example_gradients
from .samplers import GraBSampler, OrderBatchSampler, OrderSampler

#: orders the study compares: optcore's order names, and "grab" for :class:`GraBSampler`
ORDERS = ("with_replacement", "random_reshuffling", "single_shuffle", "flipflop_rr", "grab")


def digits_tensors(test_fraction: float, split_seed: int):
    """Digits (pixels / 16, centred by the training mean) split into train and test: float64 inputs, int64 labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    X, y = data.data / 16.0, data.target.astype(np.int64)
    perm = np.random.default_rng(split_seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = perm[:n_test], perm[n_test:]
    mean = X[train].mean(axis=0)
    as_t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    return as_t(X[train] - mean), torch.tensor(y[train]), as_t(X[test] - mean), torch.tensor(y[test])


def make_mlp(widths, seed: int) -> torch.nn.Sequential:
    """A ReLU MLP with PyTorch's default initialization drawn from ``seed`` (the global RNG is left untouched)."""
    layers = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=False)):
            layers.append(torch.nn.Linear(a, b, dtype=torch.float64))
            if i + 2 < len(widths):
                layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def train_digits(
    order: str,
    *,
    seed: int,
    init_seed: int = 0,
    epochs: int,
    batch_size: int,
    lr: float,
    hidden=(32,),
    test_fraction: float = 0.2,
    split_seed: int = 0,
) -> list[dict]:
    """Train the MLP 64-hidden-10 by plain SGD (cross-entropy, mean over the batch) with one order.

    Parameters
    ----------
    order : str
        One of :data:`ORDERS`.
    seed : int
        The order's seed (its Philox key).
    init_seed : int
        The seed of the network's initialization: kept fixed across seeds and orders, so that the spread over
        seeds is the orders' randomness alone and every order starts from the same network.
    epochs, batch_size : int
    lr : float
        SGD step size (no momentum, no weight decay).
    hidden : sequence of int
        Hidden widths.
    test_fraction, split_seed :
        The train/test split.

    Returns
    -------
    list of dict
        One row per epoch end (epoch 0 = the initialization): ``epoch``, ``train_loss`` (the full training set's
        mean cross-entropy), ``test_loss``, ``test_accuracy``.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    epochs = integer(epochs, "epochs", minimum=1)
    batch_size = integer(batch_size, "batch_size", minimum=1)
    lr = positive_float(lr, "lr")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same bits on every machine load, and no oversubscribed workers
    try:
        Xtr, ytr, Xte, yte = digits_tensors(test_fraction, split_seed)
        model = make_mlp([Xtr.shape[1], *hidden, 10], init_seed)
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        n = len(ytr)
        sampler = GraBSampler(n, seed=seed) if order == "grab" else OrderSampler(n, order, seed=seed)
        batches = OrderBatchSampler(sampler, batch_size)
        rows = [_evaluate(model, Xtr, ytr, Xte, yte, 0)]
        for k in range(1, epochs + 1):
            model.train()
            for idx in batches:
                x, y = Xtr[idx], ytr[idx]
                if order == "grab":  # gradients at the weights of this step, before it is taken
                    sampler.feed(per_example_gradients(model, F.cross_entropy, x, y))
                opt.zero_grad()
                F.cross_entropy(model(x), y).backward()
                opt.step()
            rows.append(_evaluate(model, Xtr, ytr, Xte, yte, k))
        return rows
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def _evaluate(model, Xtr, ytr, Xte, yte, epoch: int) -> dict:
    model.eval()
    train_loss = float(F.cross_entropy(model(Xtr), ytr))
    out = model(Xte)
    if not np.isfinite(train_loss):
        raise FloatingPointError(f"training diverged at epoch {epoch} (loss {train_loss}); lower lr")
    return {
        "epoch": epoch,
        "train_loss": train_loss,
        "test_loss": float(F.cross_entropy(out, yte)),
        "test_accuracy": float((out.argmax(dim=1) == yte).double().mean()),
    }
