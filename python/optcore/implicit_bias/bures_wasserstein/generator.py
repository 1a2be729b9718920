"""Deep linear generators x = W_N ... W_1 z: the layout of their parameters, W, the balance matrices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._validation import float_array, integer


@dataclass(frozen=True)
class LinearGenerator:
    """A bias-free linear generator of depth N with widths d_0 (latent z), d_1, ..., d_N (samples x).

    W_j is d_j x d_{j-1}; the parameters of one run are W_1, ..., W_N, each row-major, one after the other (the
    layout of the C++ kernel). The model distribution is N(0, W W^T), W = W_N ... W_1, of rank at most
    k = min_j d_j (:attr:`rank_bound`).

    Parameters
    ----------
    widths : sequence of int
        d_0, ..., d_N, each >= 1 (at least two values).
    """

    widths: tuple[int, ...]

    def __post_init__(self):
        w = tuple(self.widths) if np.ndim(self.widths) == 1 else None
        if w is None or len(w) < 2:
            raise ValueError(f"widths must be a sequence d_0, ..., d_N of at least 2 ints, got {self.widths!r}")
        object.__setattr__(self, "widths", tuple(integer(x, f"widths[{i}]", minimum=1) for i, x in enumerate(w)))

    @property
    def depth(self) -> int:
        """N, the number of layers."""
        return len(self.widths) - 1

    @property
    def dz(self) -> int:
        """d_0, the latent dimension."""
        return self.widths[0]

    @property
    def dx(self) -> int:
        """d_N, the sample dimension."""
        return self.widths[-1]

    @property
    def rank_bound(self) -> int:
        """k = min_j d_j, the largest rank of W."""
        return min(self.widths)

    def shapes(self) -> list[tuple[int, int]]:
        """(d_j, d_{j-1}) for j = 1..N."""
        return [(self.widths[j], self.widths[j - 1]) for j in range(1, self.depth + 1)]

    @property
    def params(self) -> int:
        """P = sum_j d_j d_{j-1}."""
        return int(sum(a * b for a, b in self.shapes()))

    def _core(self) -> dict:
        return {"widths": list(self.widths)}

    def check_theta(self, theta, name: str = "theta") -> np.ndarray:
        """theta as a float64 (R, P) array (a (P,) vector becomes one row); ValueError naming ``name`` otherwise."""
        th = float_array(theta, name, np.float64, ndim=(1, 2))
        th = th[None, :] if th.ndim == 1 else th
        if th.shape[1] != self.params:
            raise ValueError(f"{name} must have {self.params} parameters per row (widths {self.widths}), got {th.shape}")
        return th

    def layers(self, theta) -> list[np.ndarray]:
        """W_1, ..., W_N of one run's parameters (P,) (views)."""
        theta = np.asarray(theta)
        if theta.shape != (self.params,):
            raise ValueError(f"theta must have shape ({self.params},), got {theta.shape}")
        out, off = [], 0
        for a, b in self.shapes():
            out.append(theta[off : off + a * b].reshape(a, b))
            off += a * b
        return out

    def pack(self, layers) -> np.ndarray:
        """The flat parameters (P,) of layers W_1, ..., W_N."""
        layers = list(layers)
        if len(layers) != self.depth:
            raise ValueError(f"layers must hold {self.depth} matrices, got {len(layers)}")
        for j, (W, s) in enumerate(zip(layers, self.shapes(), strict=True)):
            if np.shape(W) != s:
                raise ValueError(f"layers[{j}] must have shape {s}, got {np.shape(W)}")
        return np.concatenate([np.asarray(W, dtype=np.float64).ravel() for W in layers])

    def end_to_end(self, theta) -> np.ndarray:
        """W = W_N ... W_1 (d_N x d_0) of one run's parameters (P,), or (R, d_N, d_0) for (R, P)."""
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim == 2:
            return np.stack([self.end_to_end(t) for t in theta])
        W = np.eye(self.dz)
        for L in self.layers(theta):
            W = L @ W
        return W

    def balance(self, theta) -> list[np.ndarray]:
        """W_{j+1}^T W_{j+1} - W_j W_j^T for j = 1..N-1 (zero for balanced weights; constant under gradient flow)."""
        Ws = self.layers(np.asarray(theta, dtype=np.float64))
        return [Ws[j + 1].T @ Ws[j + 1] - Ws[j] @ Ws[j].T for j in range(self.depth - 1)]
