"""The Bures-Wasserstein loss of a deep linear generator and its square-loss baseline: values and gradients.

Both are computed in the C++ core (``cpp/include/optcore/bures_wasserstein.hpp``) at many parameter vectors per
call. With W = W_N ... W_1, Sigma = W W^T and the target N(0, Sigma_0), R_0 = Sigma_0^{1/2}:

* ``"bures_wasserstein"``: L_tau(W) = BW^2(Sigma + tau I, Sigma_0)
  = |W|^2 + tau d + tr Sigma_0 - 2 |R_0 [W, sqrt(tau) I]|_* (the nuclear form, exact at rank-deficient W);
* ``"square"``: L_F(W) = |W W^T - Sigma_0|_F^2 (gradient 4 (W W^T - Sigma_0) W, the baseline of Brechet et al.'s
  code).
"""

from __future__ import annotations

import numpy as np

from ... import _core
from ..._threads import resolve_threads
from ..._validation import choice, float_array, nonnegative_float
from .generator import LinearGenerator
from .target import Target, as_target

LOSSES = ("bures_wasserstein", "square")


def check_generator(generator) -> LinearGenerator:
    """``generator`` if it is a :class:`LinearGenerator`, else TypeError."""
    if not isinstance(generator, LinearGenerator):
        raise TypeError(f"generator must be a LinearGenerator, got {type(generator).__name__}")
    return generator


def core_net(generator: LinearGenerator, target: Target) -> dict:
    """The net dict of the C++ calls; checks that the target's dimension is the generator's d_N."""
    if target.dim != generator.dx:
        raise ValueError(
            f"target has dimension {target.dim}, but the generator's output width d_N is {generator.dx} "
            f"(widths {generator.widths})"
        )
    return {
        **generator._core(),
        "root": np.ascontiguousarray(target.root),
        "target": np.ascontiguousarray(target.covariance),
        "trace_target": target.trace,
    }


def evaluate(generator, target, theta, *, tau: float = 0.0, loss: str = "bures_wasserstein", gradient: bool = True,
             threads: int | None = None):
    """Loss (and per-layer gradient) of a generator at one or many parameter vectors.

    Parameters
    ----------
    generator : LinearGenerator
    target : Target or (d_N, d_N) array_like
        The target covariance Sigma_0 (symmetric positive semidefinite).
    theta : (P,) or (R, P) array_like
        Parameters (layout of :class:`LinearGenerator`).
    tau : float
        Smoothing tau >= 0 of the Bures-Wasserstein loss (ignored by the square loss).
    loss : {"bures_wasserstein", "square"}
    gradient : bool
        Also return the gradient.
    threads : int, optional
        Worker threads over the R points (default :func:`optcore.default_threads`); results do not depend on it.

    Returns
    -------
    loss : float or (R,) array
        A float for a (P,) theta.
    grad : (P,) or (R, P) array
        Only with ``gradient=True``.
    """
    gen = check_generator(generator)
    tgt = as_target(target)
    single = np.ndim(theta) == 1
    th = gen.check_theta(theta)
    opts = {
        "tau": nonnegative_float(tau, "tau"),
        "loss": choice(loss, "loss", LOSSES),
        "threads": resolve_threads(threads, th.shape[0]),
        "gradient": bool(gradient),
    }
    out = _core.generator_evaluate(core_net(gen, tgt), th, opts)
    value = float(out["loss"][0]) if single else out["loss"]
    if not gradient:
        return value
    return value, (out["grad"][0] if single else out["grad"])


def generator_loss(generator, target, theta, *, tau: float = 0.0, loss: str = "bures_wasserstein"):
    """The loss of a generator at ``theta`` (a float for (P,), an (R,) array for (R, P)); see :func:`evaluate`."""
    return evaluate(generator, target, theta, tau=tau, loss=loss, gradient=False)


def generator_gradient(generator, target, theta, *, tau: float = 0.0, loss: str = "bures_wasserstein"):
    """The per-layer gradient of a generator's loss at ``theta`` ((P,) or (R, P)); see :func:`evaluate`."""
    return evaluate(generator, target, theta, tau=tau, loss=loss)[1]


def _end_to_end(W, target, name="W"):
    tgt = as_target(target)
    Wa = float_array(W, name, np.float64, ndim=2)
    if Wa.shape[0] != tgt.dim:
        raise ValueError(f"{name} must have {tgt.dim} rows (the target's dimension), got shape {Wa.shape}")
    return LinearGenerator((Wa.shape[1], Wa.shape[0])), tgt, Wa.ravel()


def bures_wasserstein_loss(W, target, *, tau: float = 0.0) -> float:
    """L_tau(W) = BW^2(W W^T + tau I, Sigma_0) of an end-to-end matrix W (d x d_0), nuclear form, in C++.

    Parameters
    ----------
    W : (d, d_0) array_like
    target : Target or (d, d) array_like
    tau : float
        >= 0.

    Returns
    -------
    float
    """
    gen, tgt, w = _end_to_end(W, target)
    return evaluate(gen, tgt, w, tau=tau, gradient=False)


def bures_wasserstein_gradient(W, target, *, tau: float = 0.0) -> np.ndarray:
    """The end-to-end gradient of :func:`bures_wasserstein_loss` (d x d_0).

    At tau = 0 it is 2 (W - R_0 U V^T), R_0 W = U S V^T over the nonzero singular values: the loss is
    differentiable in W where R_0 W has full rank min(d, d_0) (a rank-deficient W is a kink of the nuclear norm,
    and this is then one subgradient); at tau > 0 it is 2 (W - R_0 (R_0 W W^T R_0 + tau Sigma_0)^{-1/2} R_0 W).

    Returns
    -------
    (d, d_0) array
    """
    gen, tgt, w = _end_to_end(W, target)
    return evaluate(gen, tgt, w, tau=tau)[1].reshape(np.shape(W))


def bures_wasserstein_distance(covariance, target) -> float:
    """BW^2(Sigma, Sigma_0) of two covariance matrices (both checked symmetric PSD), by the nuclear form.

    Sigma = L L^T with L = V diag(sqrt(mu)) from Sigma's eigendecomposition, then
    BW^2 = tr Sigma + tr Sigma_0 - 2 |R_0 L|_*.

    Returns
    -------
    float
    """
    S = Target.from_covariance(covariance, "covariance")
    tgt = as_target(target)
    if S.dim != tgt.dim:
        raise ValueError(f"covariance and target must have the same dimension, got {S.dim} and {tgt.dim}")
    return bures_wasserstein_loss(S.eigenvectors * np.sqrt(S.eigenvalues), tgt)
