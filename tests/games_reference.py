"""An independent NumPy implementation of optcore.games.run_game, vectorized over runs (for the tests).

Written from the update rules (RELATED.md 4.2, cpp/include/optcore/games.hpp's comment), not from the C++ code,
but with the same order of arithmetic: every matrix-vector product and every sum accumulates in index order, so
that the methods without exp/log (GDA, OGDA, extragradient) agree bit for bit and MWU/OMWU to the last bits of
exp and log.
"""

from __future__ import annotations

import numpy as np


def _Ay(A, y):  # (R, n, m), (R, m) -> (R, n), summed over j in order
    s = np.zeros(A.shape[:2])
    for j in range(A.shape[2]):
        s = s + A[:, :, j] * y[:, j : j + 1]
    return s


def _Atx(A, x):  # -> (R, m), summed over i in order
    s = np.zeros((A.shape[0], A.shape[2]))
    for i in range(A.shape[1]):
        s = s + A[:, i, :] * x[:, i : i + 1]
    return s


def _seqsum(v):  # (R, d) -> (R,), in index order
    s = np.zeros(v.shape[0])
    for i in range(v.shape[1]):
        s = s + v[:, i]
    return s


def project_simplex(v):
    """Row-wise Euclidean projection onto the simplex (sort, cumulative sums, threshold)."""
    R, d = v.shape
    u = -np.sort(-v, axis=1)
    cum = np.zeros(R)
    theta = np.zeros(R)
    for k in range(d):
        cum = cum + u[:, k]
        t = (cum - 1.0) / (k + 1)
        theta = np.where(u[:, k] - t > 0, t, theta)
    return np.maximum(v - theta[:, None], 0.0)


def _softmax_step(l, g, gp, signed_eta, optimistic):
    l = l + signed_eta[:, None] * ((2.0 * g - gp) if optimistic else g)
    l = l - l.max(axis=1, keepdims=True)
    w = np.exp(l)
    total = _seqsum(w)
    return l, w / total[:, None], l - np.log(total)[:, None]


def _kl(star, logp):
    s = np.zeros(logp.shape[0])
    for i in range(logp.shape[1]):
        term = star[:, i] * (np.log(np.where(star[:, i] > 0, star[:, i], 1.0)) - logp[:, i])
        s = s + np.where(star[:, i] > 0, term, 0.0)
    return s


def _gap(gx, gy):
    return gx.max(axis=1) - gy.min(axis=1)


def reference_run(A, method, steps, eta, x0, y0, *, domain="simplex", xstar=None, ystar=None, record_every=1,
                  game=None, x_prev=None, y_prev=None):
    """Returns dict(kl, gap, dist, avg_gap, iter_x, iter_y, x, y) like run_game (no divergence handling)."""
    A = np.asarray(A, dtype=np.float64)
    A = A[None] if A.ndim == 2 else A
    R = x0.shape[0]
    game = np.zeros(R, dtype=int) if game is None else np.asarray(game)
    Ar = A[game]
    eta = np.broadcast_to(np.asarray(eta, dtype=np.float64), (R,))
    x, y = np.array(x0, dtype=np.float64), np.array(y0, dtype=np.float64)
    simplex = domain == "simplex"
    logspace = method in ("mwu", "omwu")
    if logspace:
        lx, ly = np.log(x), np.log(y)
        logx, logy = lx.copy(), ly.copy()
    gxp = _Ay(Ar, y if y_prev is None else y_prev)
    gyp = _Atx(Ar, x if x_prev is None else x_prev)
    sx, sy = np.zeros_like(x), np.zeros_like(y)
    out = {k: [] for k in ("kl", "gap", "dist", "avg_gap", "iter_x", "iter_y")}
    proj = project_simplex if simplex else (lambda v: v)
    for t in range(steps + 1):
        gx, gy = _Ay(Ar, y), _Atx(Ar, x)
        sx, sy = sx + x, sy + y
        if t % record_every == 0:
            if xstar is not None:
                xs, ys = np.asarray(xstar)[game], np.asarray(ystar)[game]
                if simplex:
                    with np.errstate(divide="ignore"):  # log 0 = -inf: KL = +inf on the boundary
                        lpx = logx if logspace else np.log(x)
                        lpy = logy if logspace else np.log(y)
                    out["kl"].append(_kl(xs, lpx) + _kl(ys, lpy))
                out["dist"].append(np.sqrt(_seqsum(np.hstack([(x - xs) * (x - xs), (y - ys) * (y - ys)]))))
            out["gap"].append(_gap(gx, gy))
            inv = 1.0 / (t + 1)
            out["avg_gap"].append(_gap(_Ay(Ar, sy * inv), _Atx(Ar, sx * inv)))
            out["iter_x"].append(x.copy())
            out["iter_y"].append(y.copy())
        if t == steps:
            break
        e = eta[:, None]
        if logspace:
            opt = method == "omwu"
            lx, x, logx = _softmax_step(lx, gx, gxp, eta, opt)
            ly, y, logy = _softmax_step(ly, gy, gyp, -eta, opt)
            gxp, gyp = gx, gy
        elif method == "gda":
            x, y = proj(x + e * gx), proj(y - e * gy)
        elif method == "ogda":
            x, y = proj(x + e * (2.0 * gx - gxp)), proj(y - e * (2.0 * gy - gyp))
            gxp, gyp = gx, gy
        elif method == "extragradient":
            xh, yh = proj(x + e * gx), proj(y - e * gy)
            x, y = proj(x + e * _Ay(Ar, yh)), proj(y - e * _Atx(Ar, xh))
        else:
            raise ValueError(method)
    res = {k: (np.stack(v, axis=1) if v else None) for k, v in out.items()}
    res["x"], res["y"] = x, y
    return res
