"""Local (asymptotic) rates of the game dynamics at an equilibrium: closed form (RELATED.md 4.4) and numerical.

Linearized at an interior equilibrium, every method acts on independent two-dimensional modes, one per nonzero
s, where s^2 runs over the nonzero eigenvalues of P_x A P_y A^T: P = diag(p*) - p* p*^T for the multiplicative
methods (the Fisher metric of the simplex), P = I - 1 1^T / d for the projected ones (the tangent projector), and
s = the singular values of A unconstrained. With eps = eta s, the per-step contraction of a mode is

* MWU, GDA: |1 + i eps| = sqrt(1 + eps^2) > 1 (the iterates spiral out);
* OMWU, OGDA: the larger root of lambda^2 - (1 + 2 i eps) lambda + i eps = 0:
  sqrt((1 + sqrt(1 - 4 eps^2)) / 2) for eps <= 1/2, (1/2) sqrt(1 + (2 eps + sqrt(4 eps^2 - 1))^2) above,
  stable iff eps < 1/sqrt(3);
* extragradient: |1 + i eps - eps^2| = sqrt(1 - eps^2 + eps^4).

The local rate is the largest over the modes (the smallest s is the slowest while eta s_max <= 1/2). An action
outside the support of the equilibrium, worse than the value by g > 0, loses weight like exp(-eta g) per step
under MWU/OMWU and leaves the support in finitely many steps under the projected methods. A quantity quadratic in
the distance (the KL divergence) then shrinks like rate^2 per step.
"""

from __future__ import annotations

import numpy as np

from .._validation import choice, float_array, positive_float
from .dynamics import DOMAINS, METHODS, MULTIPLICATIVE, run_game
from .equilibrium import Equilibrium, solve_game


def mode_rate(eps, method: str):
    """Per-step contraction |lambda| of one linearized mode with eps = eta s (see the module docstring).

    Parameters
    ----------
    eps : float or array
        eta times the mode's frequency s, >= 0.
    method : {"mwu", "omwu", "gda", "ogda", "extragradient"}

    Returns
    -------
    float or array like eps
    """
    method = choice(method, "method", METHODS)
    e = np.asarray(eps, dtype=np.float64)
    if np.any(~np.isfinite(e)) or np.any(e < 0):
        raise ValueError("eps must be finite and >= 0")
    if method in ("mwu", "gda"):
        out = np.sqrt(1.0 + e * e)
    elif method == "extragradient":
        out = np.sqrt(1.0 - e * e + e**4)
    else:
        below = np.sqrt((1.0 + np.sqrt(np.clip(1.0 - 4.0 * e * e, 0.0, None))) / 2.0)
        above = 0.5 * np.sqrt(1.0 + (2.0 * e + np.sqrt(np.clip(4.0 * e * e - 1.0, 0.0, None))) ** 2)
        out = np.where(e <= 0.5, below, above)
    return float(out) if np.ndim(eps) == 0 else out


def _unique_equilibrium(A, equilibrium) -> Equilibrium:
    eq = solve_game(A) if equilibrium is None else equilibrium
    if not isinstance(eq, Equilibrium):
        raise TypeError(f"equilibrium must be an Equilibrium (from solve_game), got {type(eq).__name__}")
    if not eq.unique:
        raise ValueError("the local rate needs a unique equilibrium; this game has several")
    return eq


def mode_frequencies(A, method: str, *, domain: str = "simplex", equilibrium: Equilibrium | None = None):
    """The nonzero frequencies s of the linearized dynamics (ascending), on the support of the equilibrium.

    Parameters
    ----------
    A : (n, m) array
    method : {"mwu", "omwu", "gda", "ogda", "extragradient"}
        Selects the metric: diag(p*) - p* p*^T for MWU/OMWU, the tangent projector for the others.
    domain : {"simplex", "unconstrained"}
    equilibrium : Equilibrium, optional
        Default :func:`solve_game` (A); it must be unique (simplex only).

    Returns
    -------
    (k,) array
    """
    method = choice(method, "method", METHODS)
    domain = choice(domain, "domain", DOMAINS)
    A = float_array(A, "A", np.float64, ndim=2)
    if domain == "unconstrained":
        s = np.linalg.svd(A, compute_uv=False)
        return np.sort(s[s > 1e-12 * max(1.0, s.max(initial=0.0))])
    eq = _unique_equilibrium(A, equilibrium)
    S, T = eq.support_x, eq.support_y

    def metric(p):
        if method in MULTIPLICATIVE:
            return np.diag(p) - np.outer(p, p)
        return np.eye(p.size) - 1.0 / p.size

    B = A[np.ix_(S, T)]
    M = metric(eq.x[S]) @ B @ metric(eq.y[T]) @ B.T
    s2 = np.sort(np.real(np.linalg.eigvals(M)))
    scale = max(1.0, float(np.abs(s2).max(initial=0.0)))
    return np.sqrt(s2[s2 > 1e-12 * scale])


def local_rate(A, step_size, method: str, *, domain: str = "simplex", equilibrium: Equilibrium | None = None) -> float:
    """The closed-form asymptotic per-step contraction of ``method`` at the game's equilibrium (RELATED.md 4.4).

    Parameters
    ----------
    A : (n, m) array
    step_size : float
        eta > 0.
    method : {"mwu", "omwu", "gda", "ogda", "extragradient"}
    domain : {"simplex", "unconstrained"}
    equilibrium : Equilibrium, optional
        Default :func:`solve_game` (A); the rate needs it unique.

    Returns
    -------
    float
        The largest |lambda| over the modes and, for MWU/OMWU, exp(-eta g) over the unplayed actions (g their
        gap to the value). Above 1: the iterates leave every neighbourhood of the equilibrium.
    """
    eta = positive_float(step_size, "step_size")
    method = choice(method, "method", METHODS)
    domain = choice(domain, "domain", DOMAINS)
    A = float_array(A, "A", np.float64, ndim=2)
    s = mode_frequencies(A, method, domain=domain, equilibrium=equilibrium)
    rate = float(np.max(mode_rate(eta * s, method))) if s.size else 0.0
    if domain == "simplex" and method in MULTIPLICATIVE:
        eq = _unique_equilibrium(A, equilibrium)
        off_x = np.setdiff1d(np.arange(A.shape[0]), eq.support_x)
        off_y = np.setdiff1d(np.arange(A.shape[1]), eq.support_y)
        gaps = np.concatenate([eq.value - (A @ eq.y)[off_x], (A.T @ eq.x)[off_y] - eq.value])
        if gaps.size:
            rate = max(rate, float(np.exp(-eta * gaps.min())))
    return rate


def jacobian(A, step_size, method: str, *, domain: str = "simplex", equilibrium: Equilibrium | None = None,
             h: float = 1e-7) -> np.ndarray:
    """The Jacobian of one step of ``method`` at the equilibrium, by central differences of the C++ step.

    On the simplex the coordinates are the first n - 1 (and m - 1) entries (tangent directions e_k - e_n); for
    the optimistic methods the state is (z_t, z_{t-1}). All 2D perturbed states run as one many-runs call.

    Parameters
    ----------
    A : (n, m) array
    step_size : float
    method : {"mwu", "omwu", "gda", "ogda", "extragradient"}
    domain : {"simplex", "unconstrained"}
    equilibrium : Equilibrium, optional
        Default :func:`solve_game` (A) (simplex; it must be interior); the origin unconstrained.
    h : float
        Finite-difference step.

    Returns
    -------
    (D, D) array
    """
    eta = positive_float(step_size, "step_size")
    h = positive_float(h, "h")
    method = choice(method, "method", METHODS)
    domain = choice(domain, "domain", DOMAINS)
    A = float_array(A, "A", np.float64, ndim=2)
    n, m = A.shape
    if domain == "simplex":
        eq = solve_game(A) if equilibrium is None else equilibrium
        if not eq.interior:
            raise ValueError("the simplex Jacobian is taken at an interior equilibrium; this one is not interior")
        xs, ys = eq.x, eq.y
        bx = np.hstack([np.eye(n - 1), -np.ones((n - 1, 1))])  # rows: tangent directions e_k - e_n
        by = np.hstack([np.eye(m - 1), -np.ones((m - 1, 1))])
        cx, cy = n - 1, m - 1
    else:
        xs, ys = np.zeros(n), np.zeros(m)
        bx, by = np.eye(n), np.eye(m)
        cx, cy = n, m
    optimistic = method in ("omwu", "ogda")
    dims = [cx, cy, cx, cy] if optimistic else [cx, cy]
    D = sum(dims)
    starts = [np.tile(v, (2 * D, 1)) for v in (xs, ys, xs, ys)[: len(dims)]]
    bases = (bx, by, bx, by)
    offset = 0
    for block, size in enumerate(dims):
        for k in range(size):
            c = offset + k
            starts[block][2 * c] += h * bases[block][k]
            starts[block][2 * c + 1] -= h * bases[block][k]
        offset += size
    kwargs = {"x_prev": starts[2], "y_prev": starts[3]} if optimistic else {}
    res = run_game(A, method, steps=1, step_size=eta, x0=starts[0], y0=starts[1], domain=domain,
                   equilibrium=None, threads=1, **kwargs)
    out = [res.x[:, :cx] - xs[:cx], res.y[:, :cy] - ys[:cy]]
    if optimistic:
        out += [starts[0][:, :cx] - xs[:cx], starts[1][:, :cy] - ys[:cy]]
    F = np.hstack(out)  # (2D, D)
    return ((F[0::2] - F[1::2]) / (2 * h)).T


def jacobian_radius(A, step_size, method: str, *, domain: str = "simplex",
                    equilibrium: Equilibrium | None = None, h: float = 1e-7) -> float:
    """Spectral radius of :func:`jacobian`: the measured local rate, to compare with :func:`local_rate`."""
    J = jacobian(A, step_size, method, domain=domain, equilibrium=equilibrium, h=h)
    return float(np.max(np.abs(np.linalg.eigvals(J))))
