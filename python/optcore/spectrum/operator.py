"""The Hessian as a linear operator: Hessian-vector products from an optcore MLP, a PyTorch model or a callable.

Every spectral routine of :mod:`optcore.spectrum` takes a :class:`HessianOperator`. It wraps the product
v -> H v, checks each product (shape, finite values), counts the products it made (``n_hvp``) so that a result
can report its cost, and probes symmetry once at construction: a Hessian is symmetric, so u^T H v = v^T H u for
random u, v; an operator that fails that is not a Hessian (a bug in the user's product) and every Lanczos-based
answer on it would be silently wrong.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._validation import float_array, integer, positive_float
from ..nn import MLP

#: largest dimension for which :meth:`HessianOperator.dense` builds the full matrix (P^2 doubles: 128 MB at 4000)
DENSE_LIMIT = 4000


class HessianOperator:
    """A symmetric P x P operator given by Hessian-vector products.

    Build one with :func:`from_mlp`, :func:`from_callable` or :func:`optcore.spectrum.from_torch`.

    Parameters
    ----------
    matvec : callable
        v (P,) -> H v (P,), float64.
    dim : int
        P.
    matmat : callable, optional
        V (P, m) -> H V (P, m) in one call (faster where the backend batches, as the C++ MLP does). Default: one
        ``matvec`` per column.
    dense : callable, optional
        () -> the dense (P, P) Hessian computed directly. Default: ``matmat`` of the identity.
    symmetry_rtol : float or None
        Tolerance of the symmetry probe |u^T H v - v^T H u| <= rtol |H| |u| |v| made at construction (2 products);
        None skips it.
    seed : int
        Seed of the probe vectors.

    Attributes
    ----------
    dim : int
    n_hvp : int
        Hessian-vector products made so far (probe included; a dense Hessian counts P).
    """

    def __init__(
        self,
        matvec: Callable,
        dim: int,
        *,
        matmat: Callable | None = None,
        dense: Callable | None = None,
        symmetry_rtol: float | None = 1e-8,
        seed: int = 0,
    ):
        if not callable(matvec):
            raise TypeError(f"hvp must be callable, got {type(matvec).__name__}")
        self.dim = integer(dim, "dim", minimum=1)
        self._matvec = matvec
        self._matmat = matmat
        self._dense = dense
        self.n_hvp = 0
        if symmetry_rtol is not None:
            self.check_symmetric(positive_float(symmetry_rtol, "symmetry_rtol"), seed=seed)

    def __repr__(self) -> str:
        return f"HessianOperator(dim={self.dim}, n_hvp={self.n_hvp})"

    # --- products ------------------------------------------------------------------------------------------------
    def matvec(self, v) -> np.ndarray:
        """H v for one vector v (P,)."""
        v = np.ascontiguousarray(v, dtype=np.float64).reshape(self.dim)
        out = self._finite(np.asarray(self._matvec(v), dtype=np.float64), (self.dim,))
        self.n_hvp += 1
        return out

    def matmat(self, V) -> np.ndarray:
        """H V for a block V (P, m): m products, batched where the backend can."""
        V = np.ascontiguousarray(V, dtype=np.float64)
        if V.ndim != 2 or V.shape[0] != self.dim:
            raise ValueError(f"V must have shape ({self.dim}, m), got {V.shape}")
        m = V.shape[1]
        if m == 0:
            return np.zeros_like(V)
        if self._matmat is None:
            out = np.stack([np.asarray(self._matvec(np.ascontiguousarray(V[:, j])), dtype=np.float64) for j in range(m)], axis=1)
        else:
            out = np.asarray(self._matmat(V), dtype=np.float64)
        out = self._finite(out, V.shape)
        self.n_hvp += m
        return out

    def dense(self) -> np.ndarray:
        """The dense Hessian (P, P), for P <= ``DENSE_LIMIT``; counts P products."""
        if self.dim > DENSE_LIMIT:
            raise ValueError(f"a dense Hessian of dimension {self.dim} is too large (limit {DENSE_LIMIT}); use products")
        if self._dense is None:
            return self.matmat(np.eye(self.dim))
        H = self._finite(np.asarray(self._dense(), dtype=np.float64), (self.dim, self.dim))
        self.n_hvp += self.dim
        return H

    def linear_operator(self):
        """This operator as a ``scipy.sparse.linalg.LinearOperator`` (symmetric: rmatvec = matvec)."""
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator(
            (self.dim, self.dim), matvec=self.matvec, rmatvec=self.matvec, matmat=self.matmat, dtype=np.float64
        )

    # --- checks ----------------------------------------------------------------------------------------------------
    def check_symmetric(self, rtol: float = 1e-8, *, seed: int = 0) -> float:
        """Probe symmetry: |u^T H v - v^T H u| against rtol max(|Hu| |v|, |Hv| |u|) for Gaussian u, v.

        Returns
        -------
        float
            The relative asymmetry found.

        Raises
        ------
        ValueError
            The operator is not symmetric (not a Hessian-vector product).
        """
        rng = np.random.default_rng([seed, 0x5E77])
        u, v = rng.standard_normal(self.dim), rng.standard_normal(self.dim)
        Hu, Hv = self.matvec(u), self.matvec(v)
        scale = max(np.linalg.norm(Hu) * np.linalg.norm(v), np.linalg.norm(Hv) * np.linalg.norm(u))
        gap = abs(float(v @ Hu - u @ Hv))
        rel = gap / scale if scale > 0 else 0.0
        if rel > rtol:
            raise ValueError(
                f"hvp is not symmetric: a random probe gives |v^T H u - u^T H v| = {gap:.3g}, {rel:.3g} of |H u||v| "
                f"(tolerance {rtol:g}); a Hessian-vector product must be symmetric in u and v"
            )
        return rel

    def _finite(self, out: np.ndarray, shape) -> np.ndarray:
        if out.size != int(np.prod(shape)):
            raise ValueError(f"hvp must return an array of shape {shape}, got {out.shape}")
        out = out.reshape(shape)
        if not np.all(np.isfinite(out)):
            bad = int(np.size(out) - np.count_nonzero(np.isfinite(out)))
            raise ValueError(
                f"hvp returned {bad} non-finite value(s) (NaN or inf): the loss or its derivatives overflow or are "
                "undefined at these parameters"
            )
        return out


def from_callable(hvp: Callable, dim: int, *, symmetry_rtol: float | None = 1e-8, seed: int = 0) -> HessianOperator:
    """A :class:`HessianOperator` from a user function v (P,) -> H v (P,).

    Parameters
    ----------
    hvp : callable
    dim : int
        P.
    symmetry_rtol : float or None
        See :class:`HessianOperator`.
    seed : int
        Seed of the symmetry probe.

    Returns
    -------
    HessianOperator
    """
    return HessianOperator(hvp, dim, symmetry_rtol=symmetry_rtol, seed=seed)


def from_mlp(mlp: MLP, params, X, Y, *, symmetry_rtol: float | None = 1e-8, seed: int = 0, threads=None):
    """The Hessian of an optcore :class:`~optcore.nn.MLP`'s loss at ``params`` on (X, Y), by exact C++ products;
    for many networks at once with a 2-D ``params``.

    Products are Pearlmutter's R-operator in the C++ core; a block of m vectors is one call over m copies of the
    network (threaded), and the dense Hessian is :meth:`MLP.hessian`. The loss is the network's, with its
    ``reduction``.

    Parameters
    ----------
    mlp : optcore.nn.MLP
        A float64 network (the spectral routines work in float64).
    params : array (P,) or (R, P)
        One network, or R networks (one row each: seeds, checkpoints, ...) on the same data. With R rows the
        result is a :class:`HessianBatch`: every spectral routine then runs all R networks in lockstep, with the
        products of each round in one C++ call, and returns one result per network, equal to the network's alone.
    X, Y : arrays
        Data as :meth:`MLP.loss_value` takes it.
    symmetry_rtol : float or None
        See :class:`HessianOperator`.
    seed : int
        Seed of the symmetry probe.
    threads : int, optional
        Threads of the C++ products (default: see :meth:`MLP.hvp`); results do not depend on it.

    Returns
    -------
    HessianOperator, or HessianBatch for a 2-D ``params``
    """
    if not isinstance(mlp, MLP):
        raise TypeError(f"mlp must be an optcore.nn.MLP, got {type(mlp).__name__}")
    if mlp.dtype != np.float64:
        raise ValueError(f"mlp must be float64 for spectra (got {mlp.dtype}); build it with dtype=np.float64")
    theta = float_array(params, "params", np.float64, ndim=(1, 2))
    if theta.shape[-1] != mlp.n_params or theta.shape[0] == 0:
        raise ValueError(
            f"params must have shape ({mlp.n_params},) or (R, {mlp.n_params}) with R >= 1, got {theta.shape}"
        )
    mlp.loss_value(theta, X, Y, threads=threads)  # validates X, Y (and structured parameters) once

    if theta.ndim == 2:
        from .batch import HessianBatch

        return HessianBatch(
            lambda networks, V: mlp.hvp(theta[networks], X, Y, V, threads=threads),
            mlp.n_params,
            theta.shape[0],
            dense=lambda: mlp.hessian(theta, X, Y, threads=threads),
            symmetry_rtol=symmetry_rtol,
            seed=seed,
        )

    def matmat(V):
        rows = np.broadcast_to(theta, (V.shape[1], theta.size))
        return mlp.hvp(rows, X, Y, np.ascontiguousarray(V.T), threads=threads).T

    return HessianOperator(
        lambda v: mlp.hvp(theta, X, Y, v, threads=threads),
        mlp.n_params,
        matmat=matmat,
        dense=lambda: mlp.hessian(theta, X, Y, threads=threads),
        symmetry_rtol=symmetry_rtol,
        seed=seed,
    )


def as_operator(op, *, batch: bool = False):
    """``op`` if it is a :class:`HessianOperator` (or, with ``batch``, a :class:`HessianBatch`); a ``TypeError``
    naming the constructors otherwise."""
    from .batch import HessianBatch

    if isinstance(op, HessianOperator) or (batch and isinstance(op, HessianBatch)):
        return op
    kinds = "a HessianOperator or a HessianBatch" if batch else "a HessianOperator"
    raise TypeError(f"op must be {kinds} (from_mlp, from_torch or from_callable), got {type(op).__name__}")
