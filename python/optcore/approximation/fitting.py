"""Fitting one network to one target with the engine, and measuring its test error.

:func:`fit_network` draws a training and a test set from the target, trains R = len(step_sizes) copies of the
network from the same initialization in one :func:`optcore.run_sgd` call (minibatch random reshuffling, step
size eta_r / (1 + decay t)), keeps the copy with the lowest final *training* loss (the test set plays no part in
the choice) and reports its test error as a fraction of the target's variance.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from .._validation import integer, positive_float
from ..nn import MLP, NetworkProblem
from ..schedules import inverse_time
from ..sgd import DivergenceWarning, run_sgd
from .targets import uniform_inputs


@dataclass(frozen=True)
class Fit:
    """The outcome of :func:`fit_network`."""

    test_mse: float  # mean squared error on the test set / variance of the test targets
    train_mse: float  # the same on the training set
    step_size: float  # the chosen eta
    free_params: int
    seconds: float
    params: np.ndarray  # the chosen network's parameters (P,)


def fit_network(
    net: MLP,
    target,
    *,
    seed: int,
    train_points: int = 4096,
    test_points: int = 4096,
    epochs: int = 100,
    batch_size: int = 16,
    step_sizes=(0.02, 0.05, 0.1),
    decay_epochs: float = 10.0,
    threads: int = 1,
) -> Fit:
    """Train ``net`` on samples of ``target`` through the engine and measure its relative test error.

    Parameters
    ----------
    net : optcore.nn.MLP
        A squared-loss network with one output (fully connected or structured).
    target : callable
        f(X) for X of shape (N, n), values (N,).
    seed : int
        Seeds the data (train and test sets), the initialization and the SGD orders.
    train_points, test_points : int
        Sample sizes; inputs uniform on [-1, 1]^n.
    epochs, batch_size : int
        SGD epochs and minibatch size (random reshuffling).
    step_sizes : sequence of float
        Initial step sizes tried (one engine run each); the one with the lowest final training loss is kept.
    decay_epochs : float
        The step size halves after this many epochs: eta_t = eta / (1 + t / (decay_epochs * steps per epoch)).
    threads : int
        Threads of the engine.
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be an optcore.nn.MLP, got {type(net).__name__}")
    train_points = integer(train_points, "train_points", minimum=2)
    test_points = integer(test_points, "test_points", minimum=2)
    batch_size = integer(batch_size, "batch_size", minimum=1, maximum=train_points)
    decay_epochs = positive_float(decay_epochs, "decay_epochs")
    etas = np.asarray(step_sizes, dtype=np.float64).reshape(-1)
    if etas.size < 1 or not np.all(etas > 0):
        raise ValueError(f"step_sizes must be one or more positive numbers, got {step_sizes!r}")
    n = int(net.widths[0])
    X = uniform_inputs(n, train_points + test_points, seed=seed)
    y = target(X)
    Xtr, ytr, Xte, yte = X[:train_points], y[:train_points], X[train_points:], y[train_points:]
    steps_per_epoch = -(-train_points // batch_size)
    start = time.perf_counter()
    with warnings.catch_warnings():  # a diverged try is expected in a step-size search; it is never the one kept
        warnings.simplefilter("ignore", DivergenceWarning)
        res = run_sgd(
            NetworkProblem(net, Xtr, ytr),
            epochs=epochs,
            batch_size=batch_size,
            step_size=inverse_time(etas, 1.0 / (decay_epochs * steps_per_epoch)),
            x0=net.init(1, seed=seed)[0],
            runs=etas.size,
            seed=seed,
            record=("objective",),
            record_every=None,
            threads=threads,
        )
    seconds = time.perf_counter() - start
    final = np.where(np.isfinite(res.objective[:, -1]) & ~res.diverged, res.objective[:, -1], np.inf)
    best = int(np.argmin(final))
    theta = res.x[best]
    if not np.isfinite(final[best]):
        raise RuntimeError(f"every SGD run diverged (step sizes {etas.tolist()}); use smaller step sizes")
    pred_te = net.forward(theta, Xte)[:, 0]
    pred_tr = net.forward(theta, Xtr)[:, 0]
    return Fit(
        test_mse=float(np.mean((pred_te - yte) ** 2) / np.var(yte)),
        train_mse=float(np.mean((pred_tr - ytr) ** 2) / np.var(ytr)),
        step_size=float(etas[best]),
        free_params=int(net.n_free_params),
        seconds=seconds,
        params=theta,
    )
