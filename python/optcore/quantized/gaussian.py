"""The two-linear-layer model with Gaussian input (RELATED.md 3.3): population loss, true gradients, expected
coarse gradients in closed form, and coarse-gradient descent on it, for many (v, w) at once.

Model: Z in R^{m x n} with i.i.d. N(0, 1) entries, binary activation sigma(t) = 1{t > 0}, teacher output
y = v*' sigma(Z w*), loss l(v, w; Z) = 1/2 (v' sigma(Z w) - y)^2 and population loss f(v, w) = E_Z l. The
activation's derivative is 0 almost everywhere, so the w-gradient of a sample is replaced by the coarse gradient
g = (v' sigma(Z w) - y) Z' (mu'(Z w) * v) of a proxy mu (a straight-through estimator: ReLU, identity or clipped
ReLU). With theta = angle(w, w*), I the identity and J = 11':

    f(v, w)   = 1/8 [v'(I + J)v - 2 v'((1 - 2 theta/pi) I + J) v* + v*'(I + J) v*]
    grad_v f  = 1/4 (I + J) v - 1/4 ((1 - 2 theta/pi) I + J) v*
    grad_w f  = -(v'v*) / (2 pi |w| sin theta) (w*~ - cos theta w~)          (w~ = w / |w|)
    E g_relu  = 1/(2 sqrt(2 pi)) [(|v|^2 + (1'v)^2 - (1'v)(1'v*)) w~ - (v'v*) w*~]
    E g_id    = 1/sqrt(2 pi) [|v|^2 w~ - (v'v*) w*~]

Every function takes v of shape (m,) or (R, m) and w of shape (n,) or (R, n) (R models at once) and returns the
matching shapes. The clipped-ReLU proxy (derivative 1{0 < t <= 1}) depends on |w| and has no closed form here:
it is sampled (:meth:`GaussianModel.sample`).
"""

from __future__ import annotations

import numpy as np

from .._validation import choice, float_array, generator, integer, positive_float

STES = ("relu", "identity", "clipped_relu")
CLOSED_FORM_STES = ("relu", "identity")


def angle(w, w_star) -> np.ndarray:
    """The angle between w (rows) and w*, by atan2(|w~ x w*~|, w~ . w*~) (accurate near 0 and pi)."""
    w = np.asarray(w, dtype=np.float64)
    ws = np.asarray(w_star, dtype=np.float64)
    u = w / np.linalg.norm(w, axis=-1, keepdims=True)
    us = ws / np.linalg.norm(ws)
    cos = np.sum(u * us, axis=-1)
    sin = np.linalg.norm(u - cos[..., None] * us, axis=-1)  # |component of u orthogonal to w*~|
    return np.arctan2(sin, cos)


class GaussianModel:
    """The teacher (v*, w*) of the two-linear-layer Gaussian model and its closed forms.

    Parameters
    ----------
    v_star : array (m,)
        Teacher output weights.
    w_star : array (n,)
        Teacher filter (nonzero).
    """

    def __init__(self, v_star, w_star):
        self.v_star = float_array(v_star, "v_star", np.float64, ndim=1)
        self.w_star = float_array(w_star, "w_star", np.float64, ndim=1)
        if self.v_star.size < 1 or self.w_star.size < 1:
            raise ValueError("v_star and w_star need at least one entry each")
        if not np.linalg.norm(self.w_star) > 0:
            raise ValueError("w_star must be nonzero (its direction defines the teacher)")
        self.m, self.n = self.v_star.size, self.w_star.size

    @classmethod
    def random(cls, m: int, n: int, *, seed=0, v_norm: float | None = None) -> GaussianModel:
        """v* ~ N(0, I_m) (rescaled to norm ``v_norm`` if given) and w* ~ N(0, I_n) from ``default_rng(seed)``."""
        m, n = integer(m, "m", minimum=1), integer(n, "n", minimum=1)
        rng = generator(seed)
        v = rng.standard_normal(m)
        if v_norm is not None:
            v *= positive_float(v_norm, "v_norm") / np.linalg.norm(v)
        return cls(v, rng.standard_normal(n))

    # --- arguments -------------------------------------------------------------------------------------------------
    def _vw(self, v, w):
        v = float_array(v, "v", np.float64, ndim=(1, 2))
        w = float_array(w, "w", np.float64, ndim=(1, 2))
        if v.shape[-1] != self.m:
            raise ValueError(f"v must have {self.m} entries per model (m), got shape {v.shape}")
        if w.shape[-1] != self.n:
            raise ValueError(f"w must have {self.n} entries per model (n), got shape {w.shape}")
        if v.ndim == 2 and w.ndim == 2 and v.shape[0] != w.shape[0]:
            raise ValueError(f"v and w must hold the same number of models, got {v.shape} and {w.shape}")
        if np.any(np.linalg.norm(w, axis=-1) == 0):
            raise ValueError("w must be nonzero (the model depends on its direction only)")
        return v, w

    def _theta(self, w):
        return angle(w, self.w_star)

    # --- closed forms ------------------------------------------------------------------------------------------------
    def loss(self, v, w) -> np.ndarray:
        """Population loss f(v, w) = E_Z 1/2 (v' sigma(Z w) - v*' sigma(Z w*))^2."""
        v, w = self._vw(v, w)
        c = 1 - 2 * self._theta(w) / np.pi
        vs = self.v_star
        vv = np.sum(v * v, axis=-1) + np.sum(v, axis=-1) ** 2
        vvs = c * (v @ vs) + np.sum(v, axis=-1) * vs.sum()
        ss = vs @ vs + vs.sum() ** 2
        return (vv - 2 * vvs + ss) / 8

    def grad_v(self, v, w) -> np.ndarray:
        """grad_v f = 1/4 (I + J) v - 1/4 ((1 - 2 theta/pi) I + J) v* (the expected exact v-gradient)."""
        v, w = self._vw(v, w)
        c = (1 - 2 * self._theta(w) / np.pi)[..., None]
        vs = self.v_star
        return (v + np.sum(v, axis=-1, keepdims=True)) / 4 - (c * vs + vs.sum()) / 4

    def grad_w(self, v, w) -> np.ndarray:
        """grad_w f = -(v'v*) / (2 pi |w| sin theta) (w*~ - cos theta w~); 0 where theta is 0 or pi."""
        v, w = self._vw(v, w)
        norm = np.linalg.norm(w, axis=-1, keepdims=True)
        u, us = w / norm, self.w_star / np.linalg.norm(self.w_star)
        theta = self._theta(w)[..., None]
        tangent = us - np.cos(theta) * u  # |tangent| = sin theta
        sin = np.sin(theta)
        with np.errstate(invalid="ignore", divide="ignore"):
            g = -(v @ self.v_star)[..., None] / (2 * np.pi * norm * sin) * tangent
        return np.where(sin > 0, g, 0.0)

    def expected_coarse_grad(self, v, w, ste: str = "relu") -> np.ndarray:
        """E_Z of the coarse w-gradient for the ReLU or identity proxy (closed forms above)."""
        ste = choice(ste, "ste", set(CLOSED_FORM_STES))
        v, w = self._vw(v, w)
        u = w / np.linalg.norm(w, axis=-1, keepdims=True)
        us = self.w_star / np.linalg.norm(self.w_star)
        vvs = (v @ self.v_star)[..., None]
        vv = np.sum(v * v, axis=-1, keepdims=True)
        if ste == "identity":
            return (vv * u - vvs * us) / np.sqrt(2 * np.pi)
        ones = np.sum(v, axis=-1, keepdims=True)
        return ((vv + ones**2 - ones * self.v_star.sum()) * u - vvs * us) / (2 * np.sqrt(2 * np.pi))

    def correlation(self, v, w, ste: str = "relu") -> np.ndarray:
        """<E g, grad_w f>: (v'v*)^2 sin theta / (4 pi sqrt(2 pi) |w|) for ReLU, twice that for identity."""
        return np.sum(self.expected_coarse_grad(v, w, ste) * self.grad_w(v, w), axis=-1)

    def correlation_closed_form(self, v, w, ste: str = "relu") -> np.ndarray:
        """The closed form of :meth:`correlation` (RELATED.md 3.3), for checking it."""
        ste = choice(ste, "ste", set(CLOSED_FORM_STES))
        v, w = self._vw(v, w)
        value = (v @ self.v_star) ** 2 * np.sin(self._theta(w)) / (4 * np.pi * np.sqrt(2 * np.pi))
        value = value / np.linalg.norm(w, axis=-1)
        return 2 * value if ste == "identity" else value

    # --- sampling ------------------------------------------------------------------------------------------------
    def sample(self, v, w, samples: int, *, ste: str = "relu", seed=0, chunk: int = 100_000) -> dict:
        """Monte Carlo means over ``samples`` draws of Z (the same draws for every model): loss, v-gradient and
        coarse w-gradient, and their standard errors (keys ``loss``, ``grad_v``, ``coarse_grad``, ``*_se``).

        The draws come from ``numpy.random.default_rng(seed)`` in chunks of ``chunk`` samples.
        """
        ste = choice(ste, "ste", set(STES))
        v, w = self._vw(v, w)
        samples = integer(samples, "samples", minimum=2)
        chunk = integer(chunk, "chunk", minimum=1)
        rng = generator(seed)
        single = v.ndim == 1 and w.ndim == 1
        V, W = np.atleast_2d(v), np.atleast_2d(w)
        R = max(V.shape[0], W.shape[0])
        V, W = np.broadcast_to(V, (R, self.m)), np.broadcast_to(W, (R, self.n))
        sums = {k: 0.0 for k in ("loss", "grad_v", "coarse_grad")}
        squares = {k: 0.0 for k in sums}
        done = 0
        while done < samples:
            s = min(chunk, samples - done)
            Z = rng.standard_normal((s, self.m, self.n))
            y = (Z @ self.w_star > 0).astype(float) @ self.v_star  # (s,)
            pre = np.einsum("smn,rn->srm", Z, W)  # (s, R, m)
            act = (pre > 0).astype(float)
            r = np.einsum("srm,rm->sr", act, V) - y[:, None]  # residual (s, R)
            deriv = {"relu": pre > 0, "identity": np.ones_like(pre, dtype=bool), "clipped_relu": (pre > 0) & (pre <= 1)}[ste]
            values = {
                "loss": r**2 / 2,
                "grad_v": r[..., None] * act,
                "coarse_grad": r[..., None] * np.einsum("smn,srm->srn", Z, deriv * V[None]),
            }
            for k, x in values.items():
                sums[k] = sums[k] + x.sum(axis=0)
                squares[k] = squares[k] + (x**2).sum(axis=0)
            done += s
        out = {}
        for k in sums:
            mean = sums[k] / samples
            var = np.maximum(squares[k] / samples - mean**2, 0.0) * samples / (samples - 1)
            se = np.sqrt(var / samples)
            out[k], out[k + "_se"] = (mean[0], se[0]) if single else (mean, se)
        return out


def coarse_gradient_descent(
    model: GaussianModel,
    v0,
    w0,
    *,
    step_size: float,
    steps: int,
    ste: str = "relu",
    train_v: bool = True,
    samples: int | None = None,
    seed=0,
) -> dict:
    """Coarse-gradient descent on the Gaussian model for R starting points at once.

    Each step: v <- v - eta grad_v (if ``train_v``), w <- w - eta g, where g is the expected coarse gradient
    (closed form; ``samples=None``, ReLU and identity proxies) or its Monte Carlo estimate over ``samples`` draws
    of Z per step (every proxy; the sampled v-gradient too), drawn from ``default_rng(seed)``.

    Returns
    -------
    dict
        ``theta`` (R, steps + 1) angle to w* (atan2), ``loss`` (R, steps + 1) population loss f (closed form),
        ``v`` (R, m) and ``w`` (R, n) at the end.
    """
    step_size = positive_float(step_size, "step_size")
    steps = integer(steps, "steps", minimum=0)
    ste = choice(ste, "ste", set(STES))
    if samples is None and ste not in CLOSED_FORM_STES:
        raise ValueError(f"ste={ste!r} has no closed form here: give samples= (Monte Carlo coarse gradients)")
    v, w = model._vw(v0, w0)
    R = max(np.atleast_2d(v).shape[0], np.atleast_2d(w).shape[0])
    v = np.array(np.broadcast_to(np.atleast_2d(v), (R, model.m)))
    w = np.array(np.broadcast_to(np.atleast_2d(w), (R, model.n)))
    rng = generator(seed)
    theta = np.empty((R, steps + 1))
    loss = np.empty((R, steps + 1))
    for t in range(steps + 1):
        theta[:, t] = angle(w, model.w_star)
        loss[:, t] = model.loss(v, w)
        if t == steps:
            break
        if samples is None:
            gv, gw = model.grad_v(v, w), model.expected_coarse_grad(v, w, ste)
        else:
            s = model.sample(v, w, samples, ste=ste, seed=rng)
            gv, gw = s["grad_v"], s["coarse_grad"]
        if train_v:
            v = v - step_size * gv
        w = w - step_size * gw
        if not np.all(np.isfinite(w)) or np.any(np.linalg.norm(w, axis=-1) == 0):
            raise FloatingPointError("w left the domain (non-finite or zero): reduce step_size")
    return {"theta": theta, "loss": loss, "v": v, "w": w}
