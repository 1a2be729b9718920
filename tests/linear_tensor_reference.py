"""Independent NumPy reference for optcore.implicit_bias.run_gd: one GD step at a time, gradients by other routes.

Fully connected: gradient of <g, W_1...w_L> by explicit matrix products; diagonal: products of the other layers;
convolutional: convolution as a circulant matrix (np.roll) and its transpose; odeco: einsum over the factors.
"""

from __future__ import annotations

import numpy as np


def loss_and_slope(kind, f, y):
    if kind == "squared":
        return 0.5 * (f - y) ** 2, f - y
    m = y * f
    if kind == "exponential":
        e = np.exp(-m)
        return e, -y * e
    value = np.logaddexp(0.0, -m)
    return value, -y / (1.0 + np.exp(m))


def circulant(w):
    """C with C @ b = w (*) b, (w (*) b)_i = sum_j w_j b_{i-j}: column j of C is roll(w, j)."""
    return np.stack([np.roll(w, j) for j in range(w.size)], axis=1)


def beta_and_grads(kind, layers, g_fn, *, S=None, U=None):
    """beta(layers) and the gradients of the loss given g_fn(beta) = dLoss/dbeta."""
    L = len(layers)
    if kind == "fully_connected":
        if L == 1:
            beta = layers[0].copy()
            g = g_fn(beta)
            return beta, [g]
        mats = [layers[li] for li in range(L - 1)] + [layers[-1][:, None]]

        def prod(ms, size):
            out = np.eye(size)
            for M in ms:
                out = out @ M
            return out

        beta = prod(mats, mats[0].shape[0])[:, 0]
        g = g_fn(beta)
        grads = []
        for li in range(L):
            left = prod(mats[:li], mats[0].shape[0])  # d x in_l
            right = prod(mats[li + 1 :], mats[li].shape[1])  # out_l x 1
            G = left.T @ g[:, None] @ right.T
            grads.append(G[:, 0] if li == L - 1 else G)
        return beta, grads
    if kind == "diagonal":
        beta = np.prod(layers, axis=0)
        g = g_fn(beta)
        return beta, [g * np.prod([layers[m] for m in range(L) if m != li], axis=0) for li in range(L)]
    if kind == "convolutional":
        d = layers[0].size

        def conv_all(ws):
            out = np.zeros(d)
            out[0] = 1.0
            for w in ws:
                out = circulant(w) @ out
            return out

        beta = conv_all(layers)
        g = g_fn(beta)
        # beta = C(others) w_l, so dLoss/dw_l = C(others)^T g
        return beta, [circulant(conv_all([layers[m] for m in range(L) if m != li])).T @ g for li in range(L)]
    if kind == "odeco":
        z = [U[li].T @ layers[li] for li in range(L)]
        rho = np.prod(z, axis=0)
        beta = S.T @ rho
        g = g_fn(beta)
        g_rho = S @ g
        return beta, [U[li] @ (g_rho * np.prod([z[m] for m in range(L) if m != li], axis=0)) for li in range(L)]
    raise ValueError(kind)


def reference_gd(kind, layers, X, y, loss, eta, steps, record_at, *, S=None, U=None):
    """Plain GD; returns (beta records (K, d_kernel), loss records (K,), final layers)."""
    layers = [np.array(a, dtype=np.float64) for a in layers]
    n = X.shape[0]
    betas, losses = [], []
    rec = set(int(t) for t in record_at)

    def g_fn(beta):
        value, slope = loss_and_slope(loss, X @ beta, y)
        g_fn.loss = value.mean()
        return X.T @ slope / n

    for t in range(steps + 1):
        beta, grads = beta_and_grads(kind, layers, g_fn, S=S, U=U)
        if t in rec:
            betas.append(beta)
            losses.append(g_fn.loss)
        if t == steps:
            break
        layers = [a - eta * gr for a, gr in zip(layers, grads, strict=False)]
    return np.array(betas), np.array(losses), layers
