"""Many Hessians at once: R operators of one dimension whose products are computed together.

An optcore :class:`~optcore.nn.MLP` evaluates R parameter vectors in one threaded C++ call, so the spectra of R
networks (seeds, checkpoints, step sizes) cost about as many calls as one network's. A :class:`HessianBatch`
holds the R Hessians; :func:`drive` runs one copy of a spectral algorithm per network in lockstep: each copy is a
generator that yields the block of vectors it wants multiplied and receives the products, and every round the
blocks of all unfinished copies go to the operator as one call. Each copy computes exactly what it computes alone
(the same random vectors, the same arithmetic), so network r of a batch gets the result it gets alone, as long as
the products are the same (the C++ core gives the same bits for a network whatever the others in its call).
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import numpy as np

from .._validation import integer, positive_float
from .operator import DENSE_LIMIT, HessianOperator

#: a spectral algorithm as a generator: yields (P, m) blocks V, receives H V, returns its result
Steps = Generator[np.ndarray, np.ndarray, object]


class HessianBatch:
    """R symmetric P x P operators (the Hessians of R networks) given by one batched product.

    Build one with :func:`optcore.spectrum.from_mlp` and a 2-D ``params`` (one row per network). Every spectral
    routine of :mod:`optcore.spectrum` accepts it and returns a list with one result per network (``sharpness``:
    an array), each equal to what the network gives alone.

    Parameters
    ----------
    apply : callable
        (networks (B,) int, V (B, P)) -> (B, P): row b is H_{networks[b]} V[b]; one call for all rows.
    dim : int
        P.
    networks : int
        R.
    dense : callable, optional
        () -> the dense Hessians (R, P, P) computed directly. Default: products with the identity.
    symmetry_rtol : float or None
        Tolerance of the symmetry probe made on every network at construction (2 products each; see
        :class:`HessianOperator`); None skips it.
    seed : int
        Seed of the probe vectors (the same for every network).

    Attributes
    ----------
    dim : int
    networks : int
    n_hvp : ndarray (R,)
        Hessian-vector products made so far for each network (probe included; a dense Hessian counts P).
    """

    def __init__(
        self,
        apply: Callable,
        dim: int,
        networks: int,
        *,
        dense: Callable | None = None,
        symmetry_rtol: float | None = 1e-8,
        seed: int = 0,
    ):
        if not callable(apply):
            raise TypeError(f"apply must be callable, got {type(apply).__name__}")
        self.dim = integer(dim, "dim", minimum=1)
        self.networks = integer(networks, "networks", minimum=1)
        self._apply = apply
        self._dense = dense
        self.n_hvp = np.zeros(self.networks, dtype=np.int64)
        if symmetry_rtol is not None:
            self.check_symmetric(positive_float(symmetry_rtol, "symmetry_rtol"), seed=seed)

    def __len__(self) -> int:
        return self.networks

    def __repr__(self) -> str:
        return f"HessianBatch(networks={self.networks}, dim={self.dim}, n_hvp={int(self.n_hvp.sum())})"

    def apply(self, networks, V) -> np.ndarray:
        """Row b of the result is H_{networks[b]} V[b]: all rows in one call of the backend.

        Parameters
        ----------
        networks : int array (B,)
            Which Hessian multiplies each row, in [0, R).
        V : array (B, P)

        Returns
        -------
        ndarray (B, P)
        """
        networks = np.asarray(networks, dtype=np.int64).reshape(-1)
        V = np.ascontiguousarray(V, dtype=np.float64)
        if V.shape != (networks.size, self.dim):
            raise ValueError(
                f"V must have shape ({networks.size}, {self.dim}) (one row per network index), got {V.shape}"
            )
        if networks.size and (networks.min() < 0 or networks.max() >= self.networks):
            raise ValueError(
                f"networks must be indices in [0, {self.networks}), got {networks.min()}..{networks.max()}"
            )
        if networks.size == 0:
            return np.zeros_like(V)
        out = np.asarray(self._apply(networks, V), dtype=np.float64)
        if out.size != V.size:
            raise ValueError(f"hvp must return an array of shape {V.shape}, got {out.shape}")
        out = out.reshape(V.shape)
        finite = np.isfinite(out).all(axis=1)
        if not finite.all():
            bad = sorted(set(networks[~finite].tolist()))
            raise ValueError(
                f"hvp returned non-finite values (NaN or inf) for network(s) {bad[:10]}: the loss or its derivatives "
                "overflow or are undefined at these parameters"
            )
        self.n_hvp += np.bincount(networks, minlength=self.networks)
        return out

    def matvec(self, V) -> np.ndarray:
        """H_r V[r] for every network r: V (R, P) -> (R, P), one product per network."""
        V = np.asarray(V, dtype=np.float64)
        if V.shape != (self.networks, self.dim):
            raise ValueError(f"V must have shape ({self.networks}, {self.dim}) (one vector per network), got {V.shape}")
        return self.apply(np.arange(self.networks), V)

    def dense(self) -> np.ndarray:
        """The dense Hessians (R, P, P), for P <= ``DENSE_LIMIT``; counts P products per network."""
        if self.dim > DENSE_LIMIT:
            raise ValueError(
                f"a dense Hessian of dimension {self.dim} is too large (limit {DENSE_LIMIT}); use products"
            )
        if self._dense is None:
            eye = np.eye(self.dim)
            index = np.repeat(np.arange(self.networks), self.dim)
            return self.apply(index, np.tile(eye, (self.networks, 1))).reshape(self.networks, self.dim, self.dim)
        H = np.asarray(self._dense(), dtype=np.float64)
        if H.shape != (self.networks, self.dim, self.dim) or not np.isfinite(H).all():
            raise ValueError(f"dense must return finite values of shape ({self.networks}, {self.dim}, {self.dim})")
        self.n_hvp += self.dim
        return H

    def __getitem__(self, r: int) -> HessianOperator:
        """Network r's Hessian alone, as a :class:`HessianOperator` (its products are counted here too)."""
        r = integer(r, "r", minimum=-self.networks, maximum=self.networks - 1) % self.networks

        def matmat(V):
            return self.apply(np.full(V.shape[1], r), V.T).T

        return HessianOperator(lambda v: matmat(v[:, None])[:, 0], self.dim, matmat=matmat, symmetry_rtol=None)

    def check_symmetric(self, rtol: float = 1e-8, *, seed: int = 0) -> np.ndarray:
        """Probe every network's symmetry as :meth:`HessianOperator.check_symmetric` does (the same probe vectors).

        Returns
        -------
        ndarray (R,)
            The relative asymmetry of each network.

        Raises
        ------
        ValueError
            A network's operator is not symmetric, naming it.
        """
        rng = np.random.default_rng([seed, 0x5E77])
        u, v = rng.standard_normal(self.dim), rng.standard_normal(self.dim)
        R = self.networks
        H = self.apply(np.tile(np.arange(R), 2), np.concatenate([np.tile(u, (R, 1)), np.tile(v, (R, 1))]))
        Hu, Hv = H[:R], H[R:]
        scale = np.maximum(
            np.linalg.norm(Hu, axis=1) * np.linalg.norm(v), np.linalg.norm(Hv, axis=1) * np.linalg.norm(u)
        )
        gap = np.abs(Hu @ v - Hv @ u)
        rel = np.where(scale > 0, gap / np.where(scale > 0, scale, 1.0), 0.0)
        if (rel > rtol).any():
            r = int(np.argmax(rel))
            raise ValueError(
                f"hvp is not symmetric for network {r}: a random probe gives |v^T H u - u^T H v| = {gap[r]:.3g}, "
                f"{rel[r]:.3g} of |H u||v| (tolerance {rtol:g}); a Hessian-vector product must be symmetric"
            )
        return rel


def drive(op, make: Callable[[], Steps]):
    """Run the algorithm ``make()`` on ``op``.

    Returns its result for a :class:`HessianOperator`, a list of R results (one copy per network, products batched
    each round) for a :class:`HessianBatch`.
    """
    if isinstance(op, HessianOperator):
        steps = make()
        try:
            block = next(steps)
            while True:
                # one vector as a single product (as the algorithms always did), a block as one batched call
                product = op.matvec(block[:, 0])[:, None] if block.shape[1] == 1 else op.matmat(block)
                block = steps.send(np.ascontiguousarray(product))  # (the layout a batch's products have)
        except StopIteration as done:
            return done.value
    if not isinstance(op, HessianBatch):
        raise TypeError(
            f"op must be a HessianOperator or a HessianBatch (from_mlp, from_torch or from_callable), "
            f"got {type(op).__name__}"
        )
    results: list = [None] * op.networks
    pending: dict[int, np.ndarray] = {}
    copies = {}
    for r in range(op.networks):
        copies[r] = make()
        _advance(copies, pending, results, r, None)
    while pending:
        order = sorted(pending)
        blocks = [pending.pop(r) for r in order]
        sizes = [b.shape[1] for b in blocks]
        index = np.repeat(np.asarray(order, dtype=np.int64), sizes)
        products = op.apply(index, np.concatenate([b.T for b in blocks], axis=0))
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        for j, r in enumerate(order):
            _advance(copies, pending, results, r, np.ascontiguousarray(products[offsets[j] : offsets[j + 1]].T))
    return results


def _advance(copies, pending, results, r, product) -> None:
    try:
        block = copies[r].send(product) if product is not None else next(copies[r])
    except StopIteration as done:
        results[r] = done.value
        del copies[r]
        return
    except ValueError as exc:  # (e.g. no convergence) say which network
        raise ValueError(f"network {r}: {exc}") from exc
    pending[r] = np.asarray(block, dtype=np.float64)
