"""Full-batch gradient descent on linear tensor networks, many runs per call (the C++ kernel)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _core
from .._threads import resolve_threads
from .._validation import INT64_MAX, as_dtype, choice, float_array, integer
from .networks import LinearTensorNet, check_network

LOSSES = ("exponential", "logistic", "squared")


def log_schedule(steps: int, points: int = 60) -> np.ndarray:
    """Step counts 0, then about ``points`` log-spaced values in [1, steps], always ending at ``steps``."""
    steps = integer(steps, "steps", minimum=0)
    points = integer(points, "points", minimum=1)
    if steps == 0:
        return np.zeros(1, dtype=np.int64)
    grid = np.unique(np.round(np.geomspace(1, steps, points)).astype(np.int64))
    return np.concatenate([[0], grid]).astype(np.int64)


@dataclass(frozen=True)
class TensorGDResult:
    """What :func:`run_gd` returns.

    Attributes
    ----------
    steps : (K,) int64 array
        The step counts at which the predictor and loss were recorded.
    beta : (R, K, d) array
        End-to-end linear predictor on the original inputs of every run at every recorded step.
    loss : (R, K) array
        Average loss at every recorded step.
    theta : (R, P) array
        Final parameters (a new array: ``theta0`` is never written to).
    diverged : (R,) int64 array
        First step whose loss was not finite (then the later records are NaN), -1 for runs that did not diverge.
    network : LinearTensorNet
    meta : dict
        The call's options.
    """

    steps: np.ndarray
    beta: np.ndarray
    loss: np.ndarray
    theta: np.ndarray
    diverged: np.ndarray
    network: LinearTensorNet
    meta: dict

    @property
    def final_beta(self) -> np.ndarray:
        """(R, d) predictor after the last step."""
        return self.beta[:, -1]


def run_gd(
    network,
    X,
    y,
    *,
    loss: str,
    steps: int,
    step_size,
    alpha=None,
    theta0=None,
    block_step_scale=None,
    record_at=None,
    runs: int | None = None,
    dtype=np.float64,
    seed: int = 0,
    threads: int | None = None,
) -> TensorGDResult:
    """Full-batch GD on a linear tensor network for R runs (per-run initialization scale and step size).

    Parameters
    ----------
    network : FullyConnected, Diagonal, Convolutional, Odeco or Reparametrized
    X : (n, d) array
        Inputs.
    y : (n,) array
        Labels in {-1, +1} for the exponential and logistic losses, targets for the squared loss.
    loss : {"exponential", "logistic", "squared"}
        Average over examples of exp(-y f), log(1 + exp(-y f)) or (f - y)^2 / 2.
    steps : int
        Gradient steps per run.
    step_size : float or (R,) array
        Step size of each run.
    block_step_scale : (B,) or (R, B) array, optional
        Per-block step sizes: block b of run r (``network.block_slices()[b]``: a layer, or a factor of
        :class:`Reparametrized`) moves with step size ``step_size[r] * block_step_scale[r, b]`` (values > 0).
        Default: every block with the run's step size.
    alpha : float or (R,) array, optional
        Initialization scale(s): theta0 = network.init(alpha, runs=R, seed=seed). Give alpha or theta0.
    theta0 : (R, P) array, optional
        Explicit initial parameters.
    record_at : array of int, optional
        Strictly increasing step counts in [0, steps] to record at; default :func:`log_schedule` (steps, 60).
    runs : int, optional
        R; inferred from alpha, step_size or theta0 when left out (default 1).
    dtype : float32 or float64
    seed : int
        Seed of random initializations (fully connected and convolutional nets).
    threads : int, optional
        Worker threads, at most ``optcore._threads.MAX_THREADS`` and used up to R (default
        :func:`optcore.default_threads`: ``OPTCORE_NUM_THREADS``, else the CPUs this process may use). Results do
        not depend on it. Ctrl-C stops the run within a fraction of a second (KeyboardInterrupt).

    Returns
    -------
    TensorGDResult
    """
    net = check_network(network)
    dt = as_dtype(dtype)
    loss = choice(loss, "loss", LOSSES)
    steps = integer(steps, "steps", minimum=0, maximum=INT64_MAX)
    Xa = float_array(X, "X", np.float64, ndim=2)
    n, d = Xa.shape
    if d != net.dim:
        raise ValueError(f"X must have {net.dim} columns (the network's dim), got shape {Xa.shape}")
    if n < 1:
        raise ValueError("X must have at least one row")
    ya = float_array(y, "y", np.float64, shape=(n,))
    if loss != "squared" and not np.all(np.isin(ya, (-1.0, 1.0))):
        raise ValueError(f"y must hold labels -1 or +1 for the {loss} loss")
    if (alpha is None) == (theta0 is None):
        raise ValueError("give exactly one of alpha (initialization scale) and theta0 (initial parameters)")
    candidates = [np.size(v) for v in (alpha, step_size) if v is not None and np.ndim(v) == 1]
    if block_step_scale is not None and np.ndim(block_step_scale) == 2:
        candidates.append(np.shape(block_step_scale)[0])
    if theta0 is not None and np.ndim(theta0) == 2:
        candidates.append(np.shape(theta0)[0])
    R = integer(runs, "runs", minimum=1) if runs is not None else (max(candidates) if candidates else 1)
    if theta0 is None:
        theta = net.init(alpha, runs=R, seed=integer(seed, "seed", minimum=0))
    else:
        theta = float_array(theta0, "theta0", np.float64, ndim=(1, 2))
        theta = np.tile(theta, (R, 1)) if theta.ndim == 1 else theta
        if theta.shape != (R, net.params):
            raise ValueError(f"theta0 must have shape ({R}, {net.params}), got {theta.shape}")
    eta = float_array(step_size, "step_size", np.float64, ndim=(0, 1))
    eta = np.full(R, float(eta)) if eta.ndim == 0 else eta
    if eta.shape != (R,):
        raise ValueError(f"step_size must be a scalar or have shape ({R},), got {eta.shape}")
    if np.any(eta <= 0):
        raise ValueError("step_size must be > 0")
    step_params = None
    if block_step_scale is not None:
        blocks = net.block_slices()
        scale = float_array(block_step_scale, "block_step_scale", np.float64, ndim=(1, 2))
        scale = np.tile(scale, (R, 1)) if scale.ndim == 1 else scale
        if scale.shape != (R, len(blocks)):
            raise ValueError(
                f"block_step_scale must have shape ({len(blocks)},) or ({R}, {len(blocks)}) (one value per block "
                f"of the network), got {np.shape(block_step_scale)}"
            )
        if np.any(scale <= 0):
            raise ValueError("block_step_scale must be > 0")
        step_params = np.empty((R, net.params))
        for b, sl in enumerate(blocks):
            step_params[:, sl] = (eta * scale[:, b])[:, None]
    rec = log_schedule(steps) if record_at is None else np.asarray(record_at)
    if rec.dtype.kind not in "iu" or rec.ndim != 1 or rec.size == 0:
        raise TypeError("record_at must be a non-empty 1-D integer array")
    if rec.min() < 0 or rec.max() > steps or np.any(np.diff(rec) <= 0):
        raise ValueError(f"record_at must be strictly increasing step counts in [0, {steps}]")
    threads = resolve_threads(threads, R)
    core_net = net._core()
    if net.kind == "odeco":
        core_net["S"] = float_array(net.S, "network.S", dt)
        core_net["U"] = float_array(net.U, "network.U", dt)
    if net.kind == "hadamard":
        core_net["term_coef"] = float_array(net.coefficients, "network term coefficients", dt)
    data = {"X": float_array(net.transform_inputs(Xa), "X", dt), "y": float_array(ya, "y", dt)}
    # the kernel updates theta in place: always a fresh array, never the caller's theta0 (float_array returns its
    # argument itself when it already has the dtype and layout)
    theta = float_array(theta, "theta0" if theta0 is not None else "the initialization", dt).copy()
    options = {
        "loss": loss,
        "steps": steps,
        "threads": threads,
        "record_at": np.array(rec, dtype=np.int64),  # a copy: it becomes result.steps
        "step_size": float_array(eta, "step_size", dt),
    }
    if np.any(options["step_size"] <= 0):
        raise ValueError(f"step_size must be > 0 in {dt} (it underflows to 0)")
    if step_params is not None:
        options["step_params"] = float_array(step_params, "step_size * block_step_scale", dt)
        if np.any(options["step_params"] <= 0):
            raise ValueError(f"step_size * block_step_scale must be > 0 in {dt} (it underflows to 0)")
    out = _core.linear_tensor_gd(core_net, data, theta, options)
    return TensorGDResult(
        steps=options["record_at"],
        beta=net.reduce(out["beta"]),
        loss=out["loss"],
        theta=theta,
        diverged=out["diverged"],
        network=net,
        meta={
            "loss": loss,
            "steps": steps,
            "step_size": eta.copy(),
            "block_step_scale": None if step_params is None else scale.copy(),
            "dtype": dt.name,
            "seed": seed,
            "runs": R,
        },
    )
