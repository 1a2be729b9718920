"""Parameter-space Hessians of a generator's loss, by central differences of the exact C++ gradient.

The Bures-Wasserstein Hessian has no simple closed form (it involves the derivative of a matrix square root), so
H v = (grad L(theta + h v) - grad L(theta - h v)) / (2 h) with the exact gradient: error O(h^2 |D^3 L|) +
O(eps |grad L| / h). A dense Hessian is one C++ call over the 2P points theta +- h e_p, symmetrized.
:func:`hessian_operator` wraps the products as an :class:`optcore.spectrum.HessianOperator` for the spectral
routines (Lanczos extreme eigenvalues, trace, density).
"""

from __future__ import annotations

import numpy as np

from ..._validation import positive_float
from ...spectrum import HessianOperator
from .losses import check_generator, evaluate


def _gradients(gen, target, points, tau, loss):
    return evaluate(gen, target, points, tau=tau, loss=loss)[1]


def hessian(generator, target, theta, *, tau: float = 0.0, loss: str = "bures_wasserstein", h: float = 1e-5):
    """The dense (P, P) Hessian at theta, symmetrized ((H + H^T) / 2), from 2P exact gradients.

    Parameters
    ----------
    generator : LinearGenerator
    target : Target or (d, d) array_like
    theta : (P,) array_like
    tau : float
    loss : {"bures_wasserstein", "square"}
    h : float
        Difference step (relative to max(1, |theta|_inf)).

    Returns
    -------
    (P, P) array
    """
    gen = check_generator(generator)
    th = gen.check_theta(theta)
    if th.shape[0] != 1:
        raise ValueError(f"theta must be one parameter vector (P,), got shape {np.shape(theta)}")
    th = th[0]
    step = positive_float(h, "h") * max(1.0, float(np.max(np.abs(th))))
    P = th.size
    E = np.eye(P) * step
    g = _gradients(gen, target, np.vstack([th + E, th - E]), tau, loss)
    H = (g[:P] - g[P:]) / (2 * step)
    return 0.5 * (H + H.T)


def hessian_operator(generator, target, theta, *, tau: float = 0.0, loss: str = "bures_wasserstein",
                     h: float = 1e-5, symmetry_rtol: float | None = 1e-4) -> HessianOperator:
    """The Hessian at theta as products v -> H v (central differences of the exact gradient along v).

    ``symmetry_rtol`` is looser than for exact products: a difference quotient is symmetric only to O(h^2).

    Returns
    -------
    optcore.spectrum.HessianOperator
    """
    gen = check_generator(generator)
    th = gen.check_theta(theta)[0].copy()
    step = positive_float(h, "h") * max(1.0, float(np.max(np.abs(th))))

    def matmat(V):
        V = np.asarray(V, dtype=np.float64).reshape(th.size, -1)
        scale = np.maximum(np.linalg.norm(V, axis=0), np.finfo(float).tiny)
        U = (V / scale).T  # unit directions, one per row
        g = _gradients(gen, target, np.vstack([th + step * U, th - step * U]), tau, loss)
        m = U.shape[0]
        return ((g[:m] - g[m:]) / (2 * step)).T * scale

    return HessianOperator(
        lambda v: matmat(v[:, None])[:, 0],
        th.size,
        matmat=matmat,
        dense=lambda: hessian(gen, target, th, tau=tau, loss=loss, h=h),
        symmetry_rtol=symmetry_rtol,
    )
