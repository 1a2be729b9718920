"""The three initializations of Brechet et al.'s code (RELATED.md 2.2): normal, balanced ("balance-force"), close.

Each returns parameters of shape (runs, P); run r is drawn from ``numpy.random.default_rng([seed, r])``, so a run's
initialization does not depend on how many runs are drawn with it.
"""

from __future__ import annotations

import numpy as np

from ..._validation import integer, nonnegative_float, positive_float
from .critical import balanced_layers
from .generator import LinearGenerator
from .losses import check_generator, generator_loss
from .target import as_target, random_orthogonal

INITS = ("normal", "balanced", "close")


def _rngs(runs, seed):
    runs = integer(runs, "runs", minimum=1)
    seed = integer(seed, "seed", minimum=0)
    return [np.random.default_rng([seed, r]) for r in range(runs)]


def init_normal(generator: LinearGenerator, *, runs: int = 1, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """Independent N(0, scale^2 / d_{j-1}) entries in every layer W_j ("normal": std = width^{-1/2}).

    Brechet et al. use the hidden width for every layer; with fan-in d_{j-1} this is the same for the equal-width
    networks of their experiments (d_0 = width) and stays sensible for others.

    Returns
    -------
    (runs, P) array
    """
    gen = check_generator(generator)
    scale = positive_float(scale, "scale")
    out = []
    for rng in _rngs(runs, seed):
        out.append(np.concatenate([rng.standard_normal(a * b) * scale / np.sqrt(b) for a, b in gen.shapes()]))
    return np.stack(out)


def init_balanced(generator: LinearGenerator, *, runs: int = 1, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """Balanced layers from an end-to-end W with N(0, scale^2 / d_0) entries ("balance-force", Arora et al. 2019).

    W = U diag(s) V^T is cut to its k = min_j d_j largest singular values and every layer gets diag(s^{1/N})
    (:func:`balanced_layers`): W_{j+1}^T W_{j+1} = W_j W_j^T at the start.

    Returns
    -------
    (runs, P) array
    """
    gen = check_generator(generator)
    scale = positive_float(scale, "scale")
    out = []
    for rng in _rngs(runs, seed):
        W = rng.standard_normal((gen.dx, gen.dz)) * scale / np.sqrt(gen.dz)
        U, s, Vt = np.linalg.svd(W, full_matrices=False)
        k = gen.rank_bound
        out.append(balanced_layers(gen, (U[:, :k] * s[:k]) @ Vt[:k]))
    return np.stack(out)


def close_end_to_end(generator: LinearGenerator, target, rng, *, tau: float, scale: float) -> np.ndarray:
    """One "close" end-to-end W: Sigma = Sigma_0 - tau I + Gamma diag(a i + b) Gamma^T cut to rank k.

    a = -scale lambda_min / d, b = 2 scale lambda_min, Gamma Haar-random, W = U_k diag(sqrt(mu_k)) V_k^T with V
    Haar-random (Brechet et al.'s ``init_close``). Eigenvalues of Sigma below 0 (tau > lambda_min + ...) are
    set to 0.
    """
    gen, tgt = generator, target
    d = tgt.dim
    lmin = tgt.eigenvalues[-1]
    Gamma = random_orthogonal(d, rng)
    D = -lmin / d * scale * np.arange(1, d + 1) + 2 * scale * lmin
    Sigma = tgt.covariance - tau * np.eye(d) + (Gamma * D) @ Gamma.T
    mu, Om = np.linalg.eigh(0.5 * (Sigma + Sigma.T))
    mu, Om = np.clip(mu[::-1], 0.0, None), Om[:, ::-1]
    V = random_orthogonal(gen.dz, rng)
    k = gen.rank_bound
    return (Om[:, :k] * np.sqrt(mu[:k])) @ V[:, :k].T


def init_close(
    generator: LinearGenerator,
    target,
    *,
    tau: float = 0.0,
    runs: int = 1,
    seed: int = 0,
    scale: float = 0.95,
    shrink: float = 0.95,
    max_shrinks: int = 500,
) -> np.ndarray:
    """Balanced layers close to the target ("close" of Brechet et al.), shrunk until c > 0.

    The perturbation scale starts at ``scale`` and is multiplied by ``shrink`` until
    c = sqrt(lambda_k) - sqrt(L_tau(W(0))) > 0 (k = min_j d_j), the condition of their GD step-size bound
    (:func:`step_size_bound`); ``max_shrinks`` tries at most, then ``ValueError``.

    Returns
    -------
    (runs, P) array
    """
    gen = check_generator(generator)
    tgt = as_target(target)
    if tgt.dim != gen.dx:
        raise ValueError(f"target has dimension {tgt.dim}, the generator's d_N is {gen.dx}")
    tau = nonnegative_float(tau, "tau")
    scale = positive_float(scale, "scale")
    shrink = positive_float(shrink, "shrink")
    if shrink >= 1:
        raise ValueError(f"shrink must be in (0, 1), got {shrink}")
    max_shrinks = integer(max_shrinks, "max_shrinks", minimum=0)
    sqrt_lk = np.sqrt(tgt.eigenvalues[gen.rank_bound - 1])
    out = []
    for r, rng in enumerate(_rngs(runs, seed)):
        s = scale
        for _ in range(max_shrinks + 1):
            theta = balanced_layers(gen, close_end_to_end(gen, tgt, rng, tau=tau, scale=s))
            if sqrt_lk - np.sqrt(max(generator_loss(gen, tgt, theta, tau=tau), 0.0)) > 0:
                break
            s *= shrink
        else:
            raise ValueError(
                f"init_close: run {r} found no initialization with c > 0 in {max_shrinks} shrinks "
                f"(L* = sum over i > k of (sqrt(lambda_i) - sqrt(tau))^2 may exceed lambda_k)"
            )
        out.append(theta)
    return np.stack(out)


def initialize(generator, kind: str, *, target=None, tau: float = 0.0, runs: int = 1, seed: int = 0, scale=None):
    """One of :data:`INITS` by name (``scale`` defaults: 1 for normal and balanced, 0.95 for close)."""
    if kind == "normal":
        return init_normal(generator, runs=runs, seed=seed, scale=1.0 if scale is None else scale)
    if kind == "balanced":
        return init_balanced(generator, runs=runs, seed=seed, scale=1.0 if scale is None else scale)
    if kind == "close":
        if target is None:
            raise ValueError("the close initialization needs the target")
        return init_close(generator, target, tau=tau, runs=runs, seed=seed, scale=0.95 if scale is None else scale)
    raise ValueError(f"kind must be one of {list(INITS)}, got {kind!r}")
