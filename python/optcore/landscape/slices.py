"""Views of a loss surface: 1-D interpolation, 2-D random planes, the PCA plane of a trajectory, Hessian extremes.

Every function takes the loss as a batched callable ``loss(params (R, P)) -> (R,)`` (for an
:class:`optcore.nn.MLP`: ``lambda p: mlp.loss_value(p, X, Y)``), so a whole line or plane is one call.

* :func:`interpolate` -- loss((1 - t) theta_a + t theta_b) on a grid of t.
* :func:`filter_normalized_direction` -- a random direction whose every filter (the incoming weights of one
  neuron) has the norm of that filter in the parameters, biases zero (Li et al. 2018, "Visualizing the loss
  landscape of neural nets"), so that planes of differently scaled networks are comparable.
* :func:`plane` -- the loss on origin + a d1 + b d2 over a grid of (a, b).
* :func:`pca_plane` -- the plane of the two principal directions of a trajectory's offsets from its last point,
  with each point's coordinates and its projection error.
* :func:`hessian_extremes` -- the largest and smallest Hessian eigenvalues (a shortcut over
  :mod:`optcore.spectrum`, which has the full spectral toolkit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._validation import float_array, integer, positive_float
from ..nn import MLP


def interpolate(loss: Callable, theta_a, theta_b, *, ts=None) -> tuple[np.ndarray, np.ndarray]:
    """The loss on the line through two parameter vectors.

    Parameters
    ----------
    loss : callable
        Batched loss (R, P) -> (R,).
    theta_a, theta_b : array (P,)
    ts : array, optional
        The points t (default 101 points in [-0.5, 1.5]); t = 0 is theta_a, t = 1 is theta_b.

    Returns
    -------
    ts, losses : ndarray
    """
    _callable(loss)
    a = float_array(theta_a, "theta_a", np.float64, ndim=1)
    b = float_array(theta_b, "theta_b", np.float64, shape=a.shape)
    ts = np.linspace(-0.5, 1.5, 101) if ts is None else float_array(ts, "ts", np.float64, ndim=1)
    if ts.size == 0:
        raise ValueError("ts must not be empty")
    # (1 - t) a + t b, as documented: t = 0 and t = 1 give theta_a and theta_b exactly (a + t (b - a) missed b by
    # an ulp in about 5% of the coordinates, and b - a can overflow)
    return ts, _batched(loss, (1.0 - ts)[:, None] * a[None, :] + ts[:, None] * b[None, :])


def filter_normalized_direction(mlp: MLP, params, *, seed: int = 0) -> np.ndarray:
    """A Gaussian direction rescaled filter by filter to the norms of ``params``' filters (biases set to 0).

    Parameters
    ----------
    mlp : optcore.nn.MLP
    params : array (P,)
    seed : int

    Returns
    -------
    ndarray (P,)
    """
    if not isinstance(mlp, MLP):
        raise TypeError(f"mlp must be an optcore.nn.MLP, got {type(mlp).__name__}")
    theta = float_array(params, "params", np.float64, shape=(mlp.n_params,))
    rng = np.random.default_rng(seed)
    direction = np.zeros_like(theta)
    for (W, _), (D, b) in zip(mlp.unpack(theta), mlp.unpack(direction), strict=True):
        G = rng.standard_normal(W.shape)
        norms = np.linalg.norm(G, axis=1, keepdims=True)
        D[...] = G / np.where(norms > 0, norms, 1.0) * np.linalg.norm(W, axis=1, keepdims=True)
        if b is not None:
            b[...] = 0.0
    return direction


@dataclass(frozen=True)
class Plane:
    """The loss over a plane: ``losses[i, j]`` = loss(origin + alphas[i] d1 + betas[j] d2)."""

    origin: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    alphas: np.ndarray
    betas: np.ndarray
    losses: np.ndarray


def plane(loss: Callable, origin, d1, d2, *, span=1.0, resolution: int = 41, alphas=None, betas=None) -> Plane:
    """The loss on origin + a d1 + b d2 for a, b on a grid.

    Parameters
    ----------
    loss : callable
        Batched loss (R, P) -> (R,).
    origin, d1, d2 : array (P,)
    span : float or (float, float, float, float)
        The grid covers [-span, span]^2, or (a_min, a_max, b_min, b_max).
    resolution : int
        Points per axis.
    alphas, betas : array, optional
        Explicit grids (override span and resolution).

    Returns
    -------
    Plane
    """
    _callable(loss)
    o = float_array(origin, "origin", np.float64, ndim=1)
    d1 = float_array(d1, "d1", np.float64, shape=o.shape)
    d2 = float_array(d2, "d2", np.float64, shape=o.shape)
    resolution = integer(resolution, "resolution", minimum=2)
    if np.isscalar(span):
        s = positive_float(span, "span")
        box = (-s, s, -s, s)
    else:
        box = tuple(float_array(span, "span", np.float64, shape=(4,)))
        if not (box[0] < box[1] and box[2] < box[3]):
            raise ValueError(f"span must be (a_min, a_max, b_min, b_max) with min < max, got {box}")
    a = np.linspace(box[0], box[1], resolution) if alphas is None else float_array(alphas, "alphas", np.float64, ndim=1)
    b = np.linspace(box[2], box[3], resolution) if betas is None else float_array(betas, "betas", np.float64, ndim=1)
    pts = o + a[:, None, None] * d1 + b[None, :, None] * d2
    losses = _batched(loss, pts.reshape(-1, o.size)).reshape(a.size, b.size)
    return Plane(o, d1, d2, a, b, losses)


@dataclass(frozen=True)
class PCAPlane:
    """The PCA plane of a trajectory.

    Attributes
    ----------
    origin : ndarray (P,)
        The trajectory's last point.
    directions : ndarray (2, P)
        Orthonormal principal directions of the offsets theta_t - origin.
    coords : ndarray (T, 2)
        Each point's coordinates in the plane.
    explained : ndarray (2,)
        Fraction of the offsets' total squared norm along each direction.
    projection_error : ndarray (T,)
        |theta_t - origin - projection| / max_t |theta_t - origin|: how far each point is from the plane.
    """

    origin: np.ndarray
    directions: np.ndarray
    coords: np.ndarray
    explained: np.ndarray
    projection_error: np.ndarray


def pca_plane(trajectory) -> PCAPlane:
    """The plane through the last point of a trajectory spanned by the top two principal directions of its offsets.

    Parameters
    ----------
    trajectory : array (T, P)
        Iterates in order, T >= 3 and P >= 2, not all on one line.

    Returns
    -------
    PCAPlane
    """
    traj = float_array(trajectory, "trajectory", np.float64, ndim=2)
    T, P = traj.shape
    if T < 3 or P < 2:
        raise ValueError(f"trajectory must have at least 3 points of dimension >= 2, got shape {traj.shape}")
    origin = traj[-1]
    M = traj - origin
    _, s, Vt = np.linalg.svd(M, full_matrices=False)
    total = float(np.sum(s * s))
    if total == 0 or s.size < 2 or s[1] <= 1e-12 * s[0]:
        raise ValueError("the trajectory's offsets span fewer than two directions: no PCA plane")
    D = Vt[:2]
    coords = M @ D.T
    resid = np.linalg.norm(M - coords @ D, axis=1)
    scale = float(np.max(np.linalg.norm(M, axis=1)))
    return PCAPlane(origin, D, coords, s[:2] ** 2 / total, resid / scale)


def hessian_extremes(hvp: Callable, dim: int, *, k: int = 1, tol: float = 1e-10, seed: int = 0):
    """The k largest and k smallest eigenvalues of a symmetric operator given by Hessian-vector products.

    A shortcut over :func:`optcore.spectrum.eigenpairs` (which also gives eigenvectors, largest-magnitude
    eigenvalues, traces and densities, and takes PyTorch models).

    Parameters
    ----------
    hvp : callable
        v (P,) -> H v (P,).
    dim : int
        P.
    k : int
        How many at each end, 1 <= k < P.
    tol : float
        Relative tolerance of ``eigsh``.
    seed : int
        Seed of the Lanczos start vector.

    Returns
    -------
    largest, smallest : ndarray (k,)
        Descending and ascending.
    """
    from .. import spectrum

    op = spectrum.from_callable(hvp, integer(dim, "dim", minimum=2), seed=seed)
    tol = positive_float(tol, "tol")
    top = spectrum.eigenpairs(op, k, which="largest", vectors=False, tol=tol, seed=seed).values
    low = spectrum.eigenpairs(op, k, which="smallest", vectors=False, tol=tol, seed=seed).values
    return top, low


def mlp_hvp(mlp: MLP, params, X, Y) -> Callable:
    """The Hessian-vector product v -> H(params) v of ``mlp``'s loss on (X, Y), for :func:`hessian_extremes`.

    :func:`optcore.spectrum.from_mlp` gives the same products as an operator (batched, with a dense Hessian).
    """
    from .. import spectrum

    return spectrum.from_mlp(mlp, params, X, Y, symmetry_rtol=None).matvec


def _callable(f, name: str = "loss"):
    if not callable(f):
        raise TypeError(f"{name} must be callable, got {type(f).__name__}")


def _batched(loss, pts):
    out = np.asarray(loss(pts), dtype=np.float64).reshape(-1)
    if out.shape != (pts.shape[0],):
        raise ValueError(f"loss must return one value per row: {pts.shape[0]} expected, got {out.size}")
    return out
