"""The Gaussian-input population loss of two-layer ReLU networks in closed form (Safran and Shamir 2018).

F(W) = 1/2 E_{x ~ N(0, I_d)} [ (sum_i [w_i . x]_+ - sum_j [v_j . x]_+)^2 ] for a student W (n x d) and a teacher
V (k x d) (THEORY.md 1.6). With g(w, u) = E[[w.x]_+ [u.x]_+] = |w||u| (sin t + (pi - t) cos t) / (2 pi),
t = angle(w, u):

    F(W) = 1/2 sum_{i,i'} g(w_i, w_i') - sum_{i,j} g(w_i, v_j) + 1/2 sum_{j,j'} g(v_j, v_j').

Gradient: dF/dw_i = sum_{i'} grad_w g(w_i, w_i') - sum_j grad_w g(w_i, v_j), with
grad_w g(w, u) = (|u| sin t w/|w| + (pi - t) u) / (2 pi) (= w/2 at u = w). Hessian blocks, with w^ = w/|w| and
p = u^ - cos t w^ (|p| = sin t):

    d^2 g / dw^2     = (|u| / (2 pi |w|)) (sin t (I - w^ w^T) + p p^T / sin t)
    d^2 g / dw du    = ((pi - t) I + sin t w^ u^^T + p q^T / sin t) / (2 pi),  q = w^ - cos t u^,

so the diagonal block i is I/2 + sum_{u != w_i} c_u d^2 g / dw^2 (c = +1 for students, -1 for teachers) and
the off-diagonal block (i, i') is d^2 g / dw du at (w_i, w_i'). Everything is vectorized over a leading batch of
starts: W has shape (..., n, d). Parameters are ordered row by row: W.reshape(..., n * d).

The formulas need every student neuron nonzero (g is not differentiable at w = 0); functions raise a
``ValueError`` otherwise. Angles are computed as atan2(|p|, cos t), which keeps small angles accurate.
"""

from __future__ import annotations

import numpy as np

from .._validation import float_array

_TWO_PI = 2.0 * np.pi


def _check(W, V):
    W = float_array(W, "W", np.float64)
    V = float_array(V, "V", np.float64, ndim=2)
    if W.ndim < 2:
        raise ValueError(f"W must have shape (..., n, d), got {W.shape}")
    if W.shape[-1] != V.shape[1]:
        raise ValueError(f"W and V must have the same input dimension d, got W {W.shape} and V {V.shape}")
    if W.shape[-2] < 1 or V.shape[0] < 1:
        raise ValueError(f"W and V need at least one neuron each, got W {W.shape} and V {V.shape}")
    norms = np.linalg.norm(W, axis=-1)
    if np.any(norms == 0):
        raise ValueError("every student neuron w_i must be nonzero: the population loss is not differentiable at 0")
    return W, V


def _pair_terms(W, V):
    """Norms, unit vectors and the angle terms of every (student, student-or-teacher) pair.

    Returns the concatenation U = [W; V] (..., n + k, d) with signs c (n + k,), |w_i|, |u|, the unit vectors,
    cos t, sin t, t (all (..., n, n + k)) and p = u^ - cos t w^ (..., n, n + k, d).
    """
    n = W.shape[-2]
    U = np.concatenate([W, np.broadcast_to(V, W.shape[:-2] + V.shape)], axis=-2)
    c = np.concatenate([np.ones(n), -np.ones(V.shape[0])])
    nu = np.linalg.norm(U, axis=-1)
    nu_safe = np.where(nu > 0, nu, 1.0)  # teacher rows may be 0: their terms vanish through |u| = 0
    Uh = U / nu_safe[..., None]
    nw, Wh = nu[..., :n], Uh[..., :n, :]
    cos = np.clip(np.einsum("...id,...ud->...iu", Wh, Uh), -1.0, 1.0)
    P = Uh[..., None, :, :] - cos[..., None] * Wh[..., :, None, :]
    sin = np.linalg.norm(P, axis=-1)
    theta = np.arctan2(sin, cos)
    return U, c, nw, nu, Wh, Uh, cos, sin, theta, P


def loss(W, V):
    """F(W) for students W (..., n, d) and teacher V (k, d); shape (...)."""
    W, V = _check(W, V)
    n = W.shape[-2]
    U, c, nw, nu, Wh, Uh, cos, sin, theta, _ = _pair_terms(W, V)
    G = nw[..., :, None] * nu[..., None, :] * (sin + (np.pi - theta) * cos) / _TWO_PI
    G[..., np.arange(n), np.arange(n)] = 0.5 * nw**2  # exact self terms
    students = G[..., :n].sum(axis=(-1, -2))
    cross = G[..., n:].sum(axis=(-1, -2))
    return 0.5 * students - cross + 0.5 * _teacher_term(V)


def _teacher_term(V):
    nv = np.linalg.norm(V, axis=1)
    k = V.shape[0]
    total = 0.0
    for a in range(k):
        for b in range(k):
            if nv[a] == 0 or nv[b] == 0:
                continue
            if a == b:
                total += 0.5 * nv[a] ** 2
                continue
            ca = float(np.dot(V[a], V[b]) / (nv[a] * nv[b]))
            pa = V[b] / nv[b] - ca * V[a] / nv[a]
            t = np.arctan2(np.linalg.norm(pa), ca)
            total += nv[a] * nv[b] * (np.sin(t) + (np.pi - t) * np.cos(t)) / _TWO_PI
    return total


def gradient(W, V):
    """dF/dW, shape (..., n, d)."""
    W, V = _check(W, V)
    n = W.shape[-2]
    U, c, nw, nu, Wh, Uh, cos, sin, theta, _ = _pair_terms(W, V)
    a = c * nu[..., None, :] * sin / _TWO_PI  # coefficient of w^_i
    b = c * (np.pi - theta) / _TWO_PI  # coefficient of u
    idx = np.arange(n)
    a[..., idx, idx] = 0.0
    b[..., idx, idx] = 0.0
    grad = a.sum(axis=-1)[..., None] * Wh + np.einsum("...iu,...ud->...id", b, U)
    return grad + 0.5 * W


def hessian(W, V):
    """The Hessian of F with respect to W.reshape(..., n * d), shape (..., n d, n d)."""
    W, V = _check(W, V)
    n, d = W.shape[-2:]
    U, c, nw, nu, Wh, Uh, cos, sin, theta, P = _pair_terms(W, V)
    idx = np.arange(n)
    # 1 / sin t where the pair is not (anti)parallel; the p p^T / sin t terms are O(sin t) and vanish in the limit
    inv_sin = np.divide(1.0, sin, out=np.zeros_like(sin), where=sin > 1e-300)
    # diagonal blocks
    a = c * nu[..., None, :] * sin / (_TWO_PI * nw[..., :, None])
    e = c * nu[..., None, :] * inv_sin / (_TWO_PI * nw[..., :, None])
    a[..., idx, idx] = 0.0
    e[..., idx, idx] = 0.0
    eye = np.eye(d)
    proj = eye - Wh[..., :, :, None] * Wh[..., :, None, :]  # (..., n, d, d)
    diag = a.sum(axis=-1)[..., None, None] * proj + np.einsum("...iu,...iud,...iue->...ide", e, P, P)
    diag = diag + 0.5 * eye
    # off-diagonal blocks between students i != i'
    Ps = P[..., :, :n, :]  # p for (i, i'): w^_i' - cos w^_i
    Q = np.swapaxes(Ps, -3, -2)  # q for (i, i') = p for (i', i): w^_i - cos w^_i'
    th, sn, isn = theta[..., :n], sin[..., :n], inv_sin[..., :n]
    off = (
        ((np.pi - th) / _TWO_PI)[..., None, None] * eye
        + (sn / _TWO_PI)[..., None, None] * (Wh[..., :, None, :, None] * Wh[..., None, :, None, :])
        + (isn / _TWO_PI)[..., None, None] * (Ps[..., :, :, :, None] * Q[..., :, :, None, :])
    )  # (..., n, n, d, d)
    off[..., idx, idx, :, :] = diag
    return np.swapaxes(off, -3, -2).reshape(W.shape[:-2] + (n * d, n * d))


def monte_carlo_loss(W, V, *, samples: int = 1_000_000, seed: int = 0, chunk: int = 200_000):
    """An unbiased Monte Carlo estimate of F(W) (one W (n, d)) and its standard error, for checking :func:`loss`."""
    W, V = _check(W, V)
    if W.ndim != 2:
        raise ValueError(f"W must be one student (n, d), got {W.shape}")
    rng = np.random.default_rng(seed)
    total, total_sq, done = 0.0, 0.0, 0
    while done < samples:
        b = min(chunk, samples - done)
        x = rng.standard_normal((b, W.shape[1]))
        r = np.maximum(x @ W.T, 0).sum(axis=1) - np.maximum(x @ V.T, 0).sum(axis=1)
        f = 0.5 * r * r
        total += float(f.sum())
        total_sq += float((f * f).sum())
        done += b
    mean = total / samples
    var = max(total_sq / samples - mean * mean, 0.0)
    return mean, float(np.sqrt(var / samples))
