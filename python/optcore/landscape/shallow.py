"""One-hidden-layer networks with any scalar activation, in NumPy: loss, gradient and exact Hessian.

The parameter layout is that of :class:`optcore.nn.MLP` with widths (dx, d1, 1) and biases: W1 (d1 x dx,
row-major), b1 (d1), W2 (1 x d1), b2 (1), so vectors move freely between the two. This evaluator exists for the
activations the C++ MLP does not have (arctan, ELU, SELU) and as an independent check of the C++ Hessian.
The loss is the sum 1/2 sum_i (f(x_i) - y_i)^2 of THEORY.md 1.1.
"""

from __future__ import annotations

import numpy as np

from .._validation import float_array, integer
from .activations import Activation, get_activation


class ShallowNet:
    """f(x) = W2 h(W1 x + b1) + b2 with one output, on a fixed data set; squared loss summed over examples.

    Parameters
    ----------
    X : array (m, dx)
        Inputs, one row per example.
    y : array (m,)
        Targets.
    d1 : int
        Hidden width.
    activation : str or Activation
    """

    def __init__(self, X, y, *, d1: int, activation):
        self.X = float_array(X, "X", np.float64, ndim=2)
        m, dx = self.X.shape
        if m < 1 or dx < 1:
            raise ValueError(f"X must have at least one row and one column, got shape {self.X.shape}")
        self.y = float_array(y, "y", np.float64, shape=(m,))
        self.d1 = integer(d1, "d1", minimum=1)
        self.act: Activation = get_activation(activation)
        self.dx = dx
        self.n_params = self.d1 * dx + self.d1 + self.d1 + 1

    def unpack(self, params):
        """(W1, b1, w2, b2) views of params (..., P); w2 is the output row as a vector."""
        p = np.asarray(params)
        d1, dx = self.d1, self.dx
        W1 = p[..., : d1 * dx].reshape(p.shape[:-1] + (d1, dx))
        b1 = p[..., d1 * dx : d1 * dx + d1]
        w2 = p[..., d1 * dx + d1 : d1 * dx + 2 * d1]
        b2 = p[..., -1]
        return W1, b1, w2, b2

    def _check(self, params):
        p = float_array(params, "params", np.float64, ndim=(1, 2))
        if p.shape[-1] != self.n_params:
            raise ValueError(f"params must have {self.n_params} entries per network, got shape {p.shape}")
        return p

    def outputs(self, params) -> np.ndarray:
        """f(x_i) for each example, (m,) or (R, m)."""
        p = self._check(params)
        W1, b1, w2, b2 = self.unpack(p)
        Z = np.einsum("...jd,md->...mj", W1, self.X) + b1[..., None, :]
        return np.einsum("...mj,...j->...m", self.act.h(Z), w2) + b2[..., None]

    def loss(self, params):
        """1/2 sum_i (f(x_i) - y_i)^2, () or (R,)."""
        r = self.outputs(params) - self.y
        return 0.5 * np.sum(r * r, axis=-1)

    def _jacobian(self, p):
        """Z (m, d1), the output Jacobian J (m, P) and per-example blocks needed for the Hessian."""
        W1, b1, w2, b2 = self.unpack(p)
        m, d1, dx = self.X.shape[0], self.d1, self.dx
        Z = self.X @ W1.T + b1
        Xt = np.hstack([self.X, np.ones((m, 1))])  # [x; 1]
        H1 = self.act.dh(Z)
        J = np.zeros((m, self.n_params))
        # d f / d W1[j, :] = w2_j h'(z_j) x ; d f / d b1_j = w2_j h'(z_j)
        J[:, : d1 * dx] = (w2 * H1)[:, :, None].repeat(dx, axis=2).reshape(m, d1 * dx) * np.tile(self.X, d1)
        J[:, d1 * dx : d1 * dx + d1] = w2 * H1
        J[:, d1 * dx + d1 : d1 * dx + 2 * d1] = self.act.h(Z)
        J[:, -1] = 1.0
        return Z, Xt, H1, J

    def gradient(self, params) -> np.ndarray:
        """Exact gradient (P,) at one parameter vector."""
        p = self._check(params)
        if p.ndim != 1:
            raise ValueError(f"params must be one vector of {self.n_params} entries, got shape {p.shape}")
        _, _, _, J = self._jacobian(p)
        return J.T @ (self.outputs(p) - self.y)

    def hessian(self, params) -> np.ndarray:
        """Exact Hessian (P, P) = J^T J + sum_i r_i Hess f(x_i) at one parameter vector."""
        p = self._check(params)
        if p.ndim != 1:
            raise ValueError(f"params must be one vector of {self.n_params} entries, got shape {p.shape}")
        W1, b1, w2, b2 = self.unpack(p)
        Z, Xt, H1, J = self._jacobian(p)
        r = self.outputs(p) - self.y
        H = J.T @ J
        d1, dx = self.d1, self.dx
        H2 = self.act.d2h(Z)
        a_off = d1 * dx + d1  # first output weight
        for j in range(d1):
            idx = [*range(j * dx, (j + 1) * dx), d1 * dx + j]  # (W1[j, :], b1[j])
            # d^2 f / d theta_j^2 = w2_j h''(z_j) [x;1][x;1]^T ; d^2 f / d theta_j d w2_j = h'(z_j) [x;1]
            H[np.ix_(idx, idx)] += np.einsum("m,md,me->de", r * w2[j] * H2[:, j], Xt, Xt)
            cross = np.einsum("m,md->d", r * H1[:, j], Xt)
            H[idx, a_off + j] += cross
            H[a_off + j, idx] += cross
        return H

    def pack(self, W1, b1, w2, b2) -> np.ndarray:
        """The flat vector of (W1 (d1, dx), b1 (d1,), w2 (d1,), b2 scalar)."""
        W1 = float_array(W1, "W1", np.float64, shape=(self.d1, self.dx))
        b1 = float_array(b1, "b1", np.float64, shape=(self.d1,))
        w2 = float_array(np.ravel(w2), "w2", np.float64, shape=(self.d1,))
        b2 = float_array(np.ravel(b2), "b2", np.float64, shape=(1,))
        return np.concatenate([W1.ravel(), b1, w2, b2])
