"""Full-batch GD on deep linear generators, many runs per call (the C++ kernel), and its result."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ... import _core
from ..._threads import resolve_threads
from ..._validation import INT64_MAX, choice, float_array, integer, nonnegative_float
from ...sgd import DivergenceWarning
from ..gd import log_schedule
from .generator import LinearGenerator
from .losses import LOSSES, check_generator, core_net
from .target import Target, as_target


@dataclass(frozen=True)
class GeneratorGDResult:
    """What :func:`run_generator_gd` returns (R runs, K recorded steps).

    Attributes
    ----------
    steps : (K,) int64 array
        Step counts of the records.
    loss : (R, K) array
        Loss at each record.
    grad_norm : (R, K) array
        Norm of the gradient over all layers.
    drift : (R, K) array
        Balance drift sqrt(sum_j |D_j(t) - D_j(0)|_F^2), D_j = W_{j+1}^T W_{j+1} - W_j W_j^T (0 under gradient
        flow; O(step) under GD at a fixed time).
    end_to_end : (R, K, d_N, d_0) array
        W = W_N ... W_1 at each record.
    theta : (R, P) array
        Final parameters (a new array).
    diverged : (R,) int64 array
        First step whose loss or gradient was not finite (the later records are NaN), -1 if none.
    generator : LinearGenerator
    target : Target
    meta : dict
        The call's options.
    """

    steps: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    drift: np.ndarray
    end_to_end: np.ndarray
    theta: np.ndarray
    diverged: np.ndarray
    generator: LinearGenerator
    target: Target
    meta: dict

    @property
    def covariance(self) -> np.ndarray:
        """(R, K, d_N, d_N) model covariance W W^T at each record."""
        W = self.end_to_end
        return W @ np.swapaxes(W, -1, -2)

    def eigenvalues(self) -> np.ndarray:
        """(R, K, d_N) eigenvalues of W W^T, descending."""
        return np.linalg.eigvalsh(self.covariance)[..., ::-1]


def run_generator_gd(
    generator,
    target,
    theta0,
    *,
    steps: int,
    step_size,
    tau: float = 0.0,
    loss: str = "bures_wasserstein",
    record_at=None,
    threads: int | None = None,
) -> GeneratorGDResult:
    """Full-batch GD theta <- theta - eta grad L(theta) on a deep linear generator, for every row of theta0, in C++.

    Parameters
    ----------
    generator : LinearGenerator
    target : Target or (d_N, d_N) array_like
        Sigma_0, symmetric positive semidefinite.
    theta0 : (P,) or (R, P) array_like
        Initial parameters (:func:`init_normal`, :func:`init_balanced`, :func:`init_close`); never written to.
    steps : int
        GD steps per run (the time is steps x step_size).
    step_size : float or (R,) array_like
        eta > 0 of each run.
    tau : float
        Smoothing tau >= 0 of the Bures-Wasserstein loss.
    loss : {"bures_wasserstein", "square"}
    record_at : array of int, optional
        Strictly increasing step counts in [0, steps]; default :func:`~optcore.implicit_bias.log_schedule`.
    threads : int, optional
        Worker threads over the runs (results do not depend on it). Ctrl-C stops the call within a fraction of a
        second (KeyboardInterrupt).

    Returns
    -------
    GeneratorGDResult

    Warns
    -----
    DivergenceWarning
        When some runs' loss stopped being finite (their records from then on are NaN).
    """
    gen = check_generator(generator)
    tgt = as_target(target)
    net = core_net(gen, tgt)
    theta = gen.check_theta(theta0, "theta0").copy()  # the kernel updates it in place: never the caller's array
    R = theta.shape[0]
    steps = integer(steps, "steps", minimum=0, maximum=INT64_MAX)
    eta = float_array(step_size, "step_size", np.float64, ndim=(0, 1))
    eta = np.full(R, float(eta)) if eta.ndim == 0 else eta
    if eta.shape != (R,):
        raise ValueError(f"step_size must be a scalar or have shape ({R},) (one per run), got {eta.shape}")
    if np.any(eta <= 0):
        raise ValueError(f"step_size must be > 0, got {eta[eta <= 0][0]}")
    rec = log_schedule(steps) if record_at is None else np.asarray(record_at)
    if rec.dtype.kind not in "iu" or rec.ndim != 1 or rec.size == 0:
        raise TypeError("record_at must be a non-empty 1-D integer array")
    if rec.min() < 0 or rec.max() > steps or np.any(np.diff(rec) <= 0):
        raise ValueError(f"record_at must be strictly increasing step counts in [0, {steps}]")
    options = {
        "tau": nonnegative_float(tau, "tau"),
        "loss": choice(loss, "loss", LOSSES),
        "steps": steps,
        "record_at": np.array(rec, dtype=np.int64),
        "step_size": np.ascontiguousarray(eta),
        "threads": resolve_threads(threads, R),
    }
    out = _core.generator_gd(net, theta, options)
    bad = int(np.sum(out["diverged"] >= 0))
    if bad:
        warnings.warn(
            f"{bad} of {R} runs diverged (first at step {int(out['diverged'][out['diverged'] >= 0].min())}); "
            "their records from then on are NaN: lower the step size",
            DivergenceWarning,
            stacklevel=2,
        )
    return GeneratorGDResult(
        steps=options["record_at"],
        loss=out["loss"],
        grad_norm=out["grad_norm"],
        drift=out["drift"],
        end_to_end=out["end_to_end"],
        theta=theta,
        diverged=out["diverged"],
        generator=gen,
        target=tgt,
        meta={"tau": options["tau"], "loss": loss, "steps": steps, "step_size": eta.copy(), "runs": R},
    )
