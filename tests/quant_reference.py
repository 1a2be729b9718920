"""An independent NumPy implementation of quantized networks, written only for the tests.

From the documented definitions (optcore.nn, optcore.quantized, RELATED.md 3.2): the quantized activation and its
straight-through derivatives, the weight quantizers, the forward pass with the core's summation order (so that
forward outputs can be compared bit for bit), coarse-gradient backpropagation, and the BCGD update.
"""

import numpy as np


def quantized_act(z, bits, alpha):
    """sigma(z) = 0 (z <= 0), alpha min(ceil(z / alpha), L) (z > 0), L = 2^bits - 1, in z's dtype."""
    dt = z.dtype.type
    alpha, levels = dt(alpha), dt(2**bits - 1)
    steps = np.minimum(np.ceil(z / alpha), levels)
    return np.where(z > 0, alpha * steps, dt(0))


def ste_prime(z, bits, alpha, ste):
    """The proxy's derivative: clipped ReLU 1{0 < z <= L alpha}, ReLU 1{z > 0}, identity 1."""
    dt = z.dtype.type
    top = dt(2**bits - 1) * dt(alpha)
    mask = {"clipped_relu": (z > 0) & (z <= top), "relu": z > 0, "identity": np.ones_like(z, dtype=bool)}[ste]
    return mask.astype(z.dtype)


def lane_dot(X, W):
    """X (n, c) times W' (c -> r) with the core's order: eight partial sums over j mod 8, then a fixed tree."""
    n, c = X.shape
    acc = np.zeros((8, n, W.shape[0]), dtype=X.dtype)
    for j in range(c):
        acc[j % 8] += X[:, j : j + 1] * W[None, :, j]
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))


def unpack(widths, bias, theta):
    layers, off = [], 0
    for i, o in zip(widths[:-1], widths[1:], strict=True):
        W = theta[off : off + o * i].reshape(o, i)
        off += o * i
        b = theta[off : off + o] if bias else None
        off += o if bias else 0
        layers.append((W, b))
    return layers


def forward(widths, bias, theta, X, bits, alpha):
    """Outputs and the pre-activations of every layer (the core's bits for networks of width <= 64)."""
    return forward_alphas(widths, bias, theta, X, bits, [alpha] * (len(widths) - 2))


def squared_loss_and_coarse_grad(widths, bias, theta, X, Y, bits, alpha, ste):
    """Mean squared loss 1/2 |f - y|^2 and its coarse gradient (backpropagation with the proxy's derivative)."""
    out, zs, acts = forward(widths, bias, theta, X, bits, alpha)
    n = X.shape[0]
    delta = (out - Y) / n
    grads = []
    layers = unpack(widths, bias, theta)
    for idx in range(len(layers) - 1, -1, -1):
        W, _ = layers[idx]
        gW = delta.T @ acts[idx]
        grads.append((gW, delta.sum(axis=0) if bias else None))
        if idx > 0:
            delta = (delta @ W) * ste_prime(zs[idx - 1], bits, alpha, ste)
    grads.reverse()
    flat = []
    for gW, gb in grads:
        flat.append(gW.ravel())
        if gb is not None:
            flat.append(gb)
    return float(np.mean(0.5 * np.sum((out - Y) ** 2, axis=1))), np.concatenate(flat)


def _sign(w):
    return np.sign(w)


def _seq_sum(x):
    """The sum in float64, in index order (the core's order)."""
    return float(np.cumsum(np.asarray(x, dtype=np.float64))[-1]) if x.size else 0.0


def quantize_matrix(kind, w, bits=None):
    """Q(w) for one weight matrix, in w's dtype (optcore.quantized's definitions)."""
    dt = w.dtype.type
    a = np.abs(w)
    n = w.size
    if kind == "sign":
        return _sign(w).astype(w.dtype)
    if kind == "binary":
        delta = dt(_seq_sum(a) / n)
        return np.where(w > 0, delta, np.where(w < 0, -delta, dt(0)))
    if kind == "ternary":
        t = dt(0.7 * (_seq_sum(a) / n))
        kept = a >= t
        s = dt(_seq_sum(np.where(kept, a, 0)) / n)
        return np.where(kept, s * _sign(w).astype(w.dtype), dt(0))
    assert kind == "bits"
    delta = float(a.max()) / (2**bits - 1)
    top = 2 ** (bits - 1) - 1
    if delta > 0:
        k = np.clip(np.ceil((a.astype(np.float64) / delta - 1.0) / 2.0), 0, top)
    else:
        k = np.zeros(n)
    den = _seq_sum(k * k)
    s = dt(_seq_sum(a.astype(np.float64) * k) / den) if den > 0 else dt(0)
    kt = k.astype(w.dtype)
    return np.where(kt > 0, _sign(w).astype(w.dtype) * (s * kt), dt(0))


def quantize(widths, bias, theta, kind, bits=None, layers=None):
    """Q(theta): the listed layers' weight matrices quantized (all by default), the rest copied."""
    q = theta.copy()
    off = 0
    for idx, (i, o) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        if layers is None or idx in layers:
            q[off : off + o * i] = quantize_matrix(kind, theta[off : off + o * i], bits)
        off += o * i + (o if bias else 0)
    return q


def bcgd_update(theta, q, grad, coef, rho, mask):
    """((1 - rho) w + rho q) + c g on the quantized entries (mask), w + c g elsewhere; w + c g when rho = 0."""
    dt = theta.dtype.type
    plain = theta + dt(coef) * grad
    if rho == 0:
        return plain
    blended = (dt(1 - dt(rho)) * theta + dt(rho) * q) + dt(coef) * grad
    return np.where(mask, blended, plain)


# --- learned resolutions (one alpha per hidden layer) ------------------------------------------------------------


def alpha_first(z, bits, alpha, rule):
    """d sigma / d alpha at z: 0 (z <= 0), L (z > L alpha); inside (0, L alpha]: min(ceil(z / alpha), L) ('ae'),
    0 ('pact'), (L + 1) / 2 ('mean') -- RELATED.md 3.2 / the paper code's gd_type."""
    dt = z.dtype.type
    alpha, L = dt(alpha), dt(2**bits - 1)
    inside = (z > 0) & (z <= L * alpha)
    value = {"ae": np.minimum(np.ceil(z / alpha), L), "pact": np.zeros_like(z),
             "mean": np.full_like(z, (L + dt(1)) / dt(2))}[rule]
    return np.where(z > L * alpha, L, np.where(inside, value, dt(0))).astype(z.dtype)


def forward_alphas(widths, bias, theta, X, bits, alphas):
    """forward() with hidden layer l's resolution alphas[l - 1]."""
    a, zs, acts = X, [], [X]
    layers = unpack(widths, bias, theta)
    for idx, (W, b) in enumerate(layers):
        z = lane_dot(a, W)
        if b is not None:
            z = z + b
        zs.append(z)
        a = quantized_act(z, bits, alphas[idx]) if idx < len(layers) - 1 else z
        acts.append(a)
    return a, zs, acts


def squared_loss_and_alpha_grad(widths, bias, theta, X, Y, bits, alphas, ste, rule):
    """Mean squared loss, its coarse gradient in theta and its gradient in each hidden layer's alpha (rule)."""
    out, zs, acts = forward_alphas(widths, bias, theta, X, bits, alphas)
    n = X.shape[0]
    delta = (out - Y) / n
    grads, g_alpha = [], np.zeros(len(alphas))
    layers = unpack(widths, bias, theta)
    for idx in range(len(layers) - 1, -1, -1):
        W, _ = layers[idx]
        grads.append((delta.T @ acts[idx], delta.sum(axis=0) if bias else None))
        if idx > 0:
            back = delta @ W  # d loss / d a of the hidden layer idx (1-based), before the STE
            g_alpha[idx - 1] = np.sum(back * alpha_first(zs[idx - 1], bits, alphas[idx - 1], rule))
            delta = back * ste_prime(zs[idx - 1], bits, alphas[idx - 1], ste)
    grads.reverse()
    flat = [part for gW, gb in grads for part in ((gW.ravel(), gb) if gb is not None else (gW.ravel(),))]
    return float(np.mean(0.5 * np.sum((out - Y) ** 2, axis=1))), np.concatenate(flat), g_alpha


def alpha_update(alphas, g_alpha_sum, eta, count, rate_factor):
    """alpha <- clamp(alpha - eta clip(rate_factor g / count, -1, 1), 1e-3, 5) (the batch mean's gradient)."""
    g = np.clip(rate_factor * (g_alpha_sum / count), -1.0, 1.0)
    return np.clip(alphas - eta * g, 1e-3, 5.0)
