"""An independent NumPy implementation of the networks of optcore.nn, written only for the tests.

Forward pass and backpropagation in float64, vectorized over examples, from the documented conventions: layer
layout (W then b), activations with left derivatives at kinks, losses, and the mean/sum reduction.
"""

import numpy as np


def act(name, z, slopes=(1.0, 0.01)):
    s_pos, s_neg = slopes
    return {
        "relu": lambda: np.maximum(z, 0.0),
        "leaky": lambda: np.where(z > 0, s_pos * z, s_neg * z),
        "linear": lambda: z,
        "hardtanh": lambda: np.clip(z, -1.0, 1.0),
        "tanh": lambda: np.tanh(z),
        "sigmoid": lambda: 1.0 / (1.0 + np.exp(-z)),
        "softplus": lambda: np.logaddexp(0.0, z),
    }[name]()


def act_prime(name, z, slopes=(1.0, 0.01)):
    s_pos, s_neg = slopes
    sig = 1.0 / (1.0 + np.exp(-z))
    return {
        "relu": lambda: (z > 0).astype(float),
        "leaky": lambda: np.where(z > 0, s_pos, s_neg),
        "linear": lambda: np.ones_like(z),
        "hardtanh": lambda: ((z > -1) & (z < 1)).astype(float),
        "tanh": lambda: 1.0 - np.tanh(z) ** 2,
        "sigmoid": lambda: sig * (1 - sig),
        "softplus": lambda: sig,
    }[name]()


def unpack(widths, bias, theta):
    layers, off = [], 0
    for i, o in zip(widths[:-1], widths[1:], strict=True):
        W = theta[off : off + o * i].reshape(o, i)
        off += o * i
        b = theta[off : off + o] if bias else np.zeros(o)
        off += o if bias else 0
        layers.append((W, b))
    return layers


def losses(loss, out, Y):
    if loss == "squared":
        return 0.5 * np.sum((out - Y.reshape(out.shape)) ** 2, axis=1)
    if loss == "logistic":
        return np.logaddexp(0.0, -Y * out[:, 0])
    if loss == "exponential":
        return np.exp(-Y * out[:, 0])
    m = out.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(out - m).sum(axis=1))
    return lse - out[np.arange(len(Y)), Y.astype(int)]


def dloss(loss, out, Y):
    if loss == "squared":
        return out - Y.reshape(out.shape)
    if loss == "logistic":
        return (-Y / (1.0 + np.exp(Y * out[:, 0])))[:, None]
    if loss == "exponential":
        return (-Y * np.exp(-Y * out[:, 0]))[:, None]
    p = np.exp(out - out.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(Y)), Y.astype(int)] -= 1.0
    return p


def objective_and_grad(widths, activation, bias, loss, reduction, theta, X, Y, slopes=(1.0, 0.01)):
    """F and grad F in float64."""
    layers = unpack(widths, bias, np.asarray(theta, dtype=np.float64))
    a, zs, acts = np.asarray(X, dtype=np.float64), [], [np.asarray(X, dtype=np.float64)]
    for idx, (W, b) in enumerate(layers):
        z = a @ W.T + b
        zs.append(z)
        a = act(activation, z, slopes) if idx < len(layers) - 1 else z
        acts.append(a)
    n = X.shape[0]
    scale = 1.0 if reduction == "mean" else float(n)
    F = scale * losses(loss, a, Y).mean()
    delta = dloss(loss, a, Y) * scale / n
    grads = []
    for idx in range(len(layers) - 1, -1, -1):
        W, _ = layers[idx]
        gW = delta.T @ acts[idx]
        gb = delta.sum(axis=0)
        grads.append((gW, gb))
        if idx > 0:
            delta = (delta @ W) * act_prime(activation, zs[idx - 1], slopes)
    parts = []
    for gW, gb in reversed(grads):
        parts.append(gW.ravel())
        if bias:
            parts.append(gb)
    return F, np.concatenate(parts)


def forward(widths, activation, bias, theta, X, slopes=(1.0, 0.01)):
    """The network's outputs (n, d_L) in float64."""
    a = np.asarray(X, dtype=np.float64)
    layers = unpack(widths, bias, np.asarray(theta, dtype=np.float64))
    for idx, (W, b) in enumerate(layers):
        a = a @ W.T + b
        a = act(activation, a, slopes) if idx < len(layers) - 1 else a
    return a


def classified(loss, out, Y):
    """Which examples the outputs out (..., n, d_L) classify right: the argmax against the class (softmax_ce) or
    against the target's argmax (squared, d_L > 1), else the sign of the one output against the label's."""
    if loss == "softmax_ce":
        return out.argmax(axis=-1) == Y.astype(int)
    if loss == "squared" and out.shape[-1] > 1:
        return out.argmax(axis=-1) == Y.argmax(axis=1)
    return (out[..., 0] > 0) == (Y.reshape(-1) > 0)


def random_data(widths, loss, n, dtype=np.float64, seed=0):
    """Inputs X ~ N(0, I) and targets of the kind `loss` takes: real vectors, class indices or +-1 labels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, widths[0])).astype(dtype)
    if loss == "squared":
        Y = rng.standard_normal((n, widths[-1])).astype(dtype)
    elif loss == "softmax_ce":
        Y = rng.integers(0, widths[-1], n).astype(dtype)
    else:
        Y = rng.choice([-1.0, 1.0], n).astype(dtype)
    return X, Y


def sgd_steps(widths, theta0, X, Y, idx, eta, batch_size, *, activation="tanh", loss="squared"):
    """Plain minibatch SGD (bias, mean reduction) of each run r from theta0[r] along the visited indices idx[r]."""
    out = []
    n = X.shape[0]
    for r in range(theta0.shape[0]):
        theta = theta0[r].copy()
        for k in range(idx.shape[1]):
            for s in range(0, n, batch_size):
                batch = idx[r, k, 0, s : s + batch_size]
                _, g = objective_and_grad(widths, activation, True, loss, "mean", theta, X[batch], Y[batch])
                theta = theta - eta * g
        out.append(theta)
    return np.array(out)
