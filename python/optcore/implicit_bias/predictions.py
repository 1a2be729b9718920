"""Predicted limits of GD on linear tensor networks, computed with scipy independently of the GD kernel.

* :func:`l2_max_margin`: the hard-margin SVM, min ||w||^2 s.t. y_i <x_i, w> >= 1 (Soudry et al.; FC nets of any
  depth, THEORY.md 3.3-3.4).
* :func:`lp_max_margin`: a stationary point of min ||beta||_p^p s.t. y_i <x_i, beta> >= 1 with p = 2/L (diagonal nets;
  p = 1 is a linear program, p < 1 is solved by reweighted l1 from the l1 solution).
* :func:`fourier_min_l1` and :func:`fourier_lp_margin`: the same in the DFT domain, sum_k |fft(beta)_k|^p, for
  circular convolutional nets (Gunasekar et al. 2018), with regression (X beta = y) or margin constraints.
* :func:`min_l2_interpolant`, :func:`min_l1_interpolant`: minimum-norm solutions of X beta = y.
* :func:`woodworth_minimizer`: argmin of Woodworth et al.'s potential Q_alpha^D over X beta = y, the GF limit of a
  depth-D diagonal net beta = w_+^D - w_-^D started at alpha 1 (THEORY.md 3.4), by Newton's method on the dual.
* :func:`lp_margin_kkt_residual`: how far a direction is from satisfying the KKT conditions of the l_p margin problem.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize

from .._validation import float_array, integer, positive_float


def _data(X, y, *, labels: bool):
    Xa = float_array(X, "X", np.float64, ndim=2)
    n, d = Xa.shape
    if n < 1 or d < 1:
        raise ValueError(f"X must be non-empty, got shape {Xa.shape}")
    ya = float_array(y, "y", np.float64, shape=(n,))
    if labels and not np.all(np.isin(ya, (-1.0, 1.0))):
        raise ValueError("y must hold labels -1 or +1")
    return Xa, ya


def _check_separable(Z: np.ndarray) -> None:
    # feasibility of Z w >= 1 as a linear program
    n, d = Z.shape
    res = scipy.optimize.linprog(np.zeros(d), A_ub=-Z, b_ub=-np.ones(n), bounds=[(None, None)] * d, method="highs")
    if res.status != 0:
        raise ValueError("the data are not linearly separable (y_i <x_i, w> >= 1 has no solution)")


def l2_max_margin(X, y) -> np.ndarray:
    """The hard-margin SVM direction ŵ = argmin ||w||^2 s.t. y_i <x_i, w> >= 1 (no bias).

    Solved by SLSQP, then polished on its active set: ŵ = Z_A^T (Z_A Z_A^T)^+ 1 with Z_A the support vectors'
    rows y_i x_i, which is exact when the active set is right (checked: multipliers >= 0, all margins >= 1).

    Raises ``ValueError`` when the data are not separable.
    """
    Xa, ya = _data(X, y, labels=True)
    Z = ya[:, None] * Xa
    _check_separable(Z)
    n, d = Z.shape
    w0 = scipy.optimize.linprog(np.zeros(d), A_ub=-Z, b_ub=-np.ones(n), bounds=[(None, None)] * d, method="highs").x
    res = scipy.optimize.minimize(
        lambda w: 0.5 * w @ w,
        w0,
        jac=lambda w: w,
        constraints=[{"type": "ineq", "fun": lambda w: Z @ w - 1.0, "jac": lambda w: Z}],
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    w = res.x
    for tol in (1e-6, 1e-4, 1e-3):
        active = Z @ w <= 1.0 + tol
        ZA = Z[active]
        lam = np.linalg.lstsq(ZA @ ZA.T, np.ones(ZA.shape[0]), rcond=None)[0]
        polished = ZA.T @ lam
        if np.all(lam >= -1e-10) and np.all(Z @ polished >= 1.0 - 1e-9):
            return polished
    return w


def _svm_dual(G: np.ndarray) -> np.ndarray:
    """argmin_{lambda >= 0} lambda^T G lambda / 2 - sum(lambda): the SVM dual (w = Z^T lambda when G = Z Z^T).

    With G = R^T R positive definite (n <= d, generic data) this is the non-negative least-squares problem
    min ||R lambda - R^-T 1||^2 (the two objectives differ by a constant), solved exactly by scipy's active-set
    NNLS. A singular G falls back to L-BFGS-B.
    """
    try:
        # a relative ridge of 1e-13 keeps the factorization alive when G is singular only to rounding
        R = np.linalg.cholesky(G + 1e-13 * np.trace(G) / G.shape[0] * np.eye(G.shape[0])).T
        return scipy.optimize.nnls(R, scipy.linalg.solve_triangular(R.T, np.ones(G.shape[0]), lower=True))[0]
    except np.linalg.LinAlgError:
        res = scipy.optimize.minimize(
            lambda lam: (0.5 * lam @ G @ lam - lam.sum(), G @ lam - 1.0),
            np.zeros(G.shape[0]),
            jac=True,
            method="L-BFGS-B",
            bounds=[(0, None)] * G.shape[0],
            options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000},
        )
        return res.x


def min_l2_interpolant(X, y) -> np.ndarray:
    """Argmin ||beta||_2 s.t. X beta = y (the pseudo-inverse solution; X must have full row rank)."""
    Xa, ya = _data(X, y, labels=False)
    beta = scipy.linalg.lstsq(Xa, ya)[0]
    if np.linalg.norm(Xa @ beta - ya) > 1e-8 * max(1.0, np.linalg.norm(ya)):
        raise ValueError("X beta = y has no solution (X must have full row rank, n <= d)")
    return beta


def min_l1_interpolant(X, y) -> np.ndarray:
    """Argmin ||beta||_1 s.t. X beta = y, as a linear program in (beta+, beta-) (HiGHS)."""
    Xa, ya = _data(X, y, labels=False)
    n, d = Xa.shape
    res = scipy.optimize.linprog(
        np.ones(2 * d), A_eq=np.hstack([Xa, -Xa]), b_eq=ya, bounds=[(0, None)] * (2 * d), method="highs"
    )
    if res.status != 0:
        raise ValueError(f"X beta = y has no solution ({res.message})")
    return res.x[:d] - res.x[d:]


def _weighted_l1_margin(Z, weights):
    n, d = Z.shape
    res = scipy.optimize.linprog(
        np.concatenate([weights, weights]),
        A_ub=-np.hstack([Z, -Z]),
        b_ub=-np.ones(n),
        bounds=[(0, None)] * (2 * d),
        method="highs",
    )
    if res.status != 0:
        raise ValueError(f"the l1 margin program failed ({res.message})")
    return res.x[:d] - res.x[d:]


def lp_max_margin(X, y, p: float, *, iterations: int = 50, eps: float = 1e-9) -> np.ndarray:
    """A stationary point of min sum_j |beta_j|^p s.t. y_i <x_i, beta> >= 1, for 0 < p <= 2 (margin 1).

    p = 2 is the SVM (:func:`l2_max_margin`), p = 1 a linear program; for p < 1 (depth-L diagonal nets, p = 2/L) the
    problem is non-convex and this returns the stationary point reached by reweighted l1 (weights
    p (|beta_j| + eps)^(p - 1)) started from the l1 solution. Other stationary points may exist; GD can find
    another one, which :func:`lp_margin_kkt_residual` detects.
    """
    p = positive_float(p, "p")
    if p > 2:
        raise ValueError(f"p must be in (0, 2], got {p}")
    Xa, ya = _data(X, y, labels=True)
    Z = ya[:, None] * Xa
    _check_separable(Z)
    if p == 2:
        return l2_max_margin(Xa, ya)
    if p > 1:
        res = scipy.optimize.minimize(
            lambda b: np.sum(np.abs(b) ** p),
            l2_max_margin(Xa, ya),
            jac=lambda b: p * np.sign(b) * np.abs(b) ** (p - 1),
            constraints=[{"type": "ineq", "fun": lambda b: Z @ b - 1.0, "jac": lambda b: Z}],
            method="SLSQP",
            options={"ftol": 1e-14, "maxiter": 1000},
        )
        return res.x
    beta = _weighted_l1_margin(Z, np.ones(Z.shape[1]))
    if p == 1:
        return beta
    for _ in range(integer(iterations, "iterations", minimum=1)):
        new = _weighted_l1_margin(Z, p * (np.abs(beta) + eps) ** (p - 1))
        if np.allclose(new, beta, rtol=1e-12, atol=1e-14):
            break
        beta = new
    return beta


def lp_margin_kkt_residual(beta, X, y, p: float, *, support_tol: float = 1e-3, zero_tol: float = 1e-3) -> float:
    """Relative KKT residual of the direction ``beta`` for min ||b||_p^p s.t. y_i <x_i, b> >= 1.

    ``beta`` is rescaled to margin 1. Support vectors are the examples within ``support_tol`` of the margin; on the
    coordinates larger than ``zero_tol`` times the largest, stationarity asks p |b_j|^(p-1) sign(b_j) =
    sum_i lambda_i y_i x_ij with lambda >= 0 on the support vectors (for p < 1 zero coordinates impose nothing).
    Returns || Z_SV^T lambda - grad || / || grad || with lambda from non-negative least squares: 0 at a KKT point.
    """
    Xa, ya = _data(X, y, labels=True)
    b = float_array(beta, "beta", np.float64, shape=(Xa.shape[1],))
    Z = ya[:, None] * Xa
    margins = Z @ b
    if margins.min() <= 0:
        return float("inf")
    b = b / margins.min()
    margins = Z @ b
    sv = margins <= 1.0 + support_tol
    big = np.abs(b) > zero_tol * np.abs(b).max()
    grad = p * np.sign(b[big]) * np.abs(b[big]) ** (p - 1)
    lam, res = scipy.optimize.nnls(Z[sv][:, big].T, grad)
    return float(res / np.linalg.norm(grad))


def _dft_matrix(d: int) -> np.ndarray:
    return np.fft.fft(np.eye(d), axis=0)  # fft(beta) = F @ beta


def fourier_min_l1(X, y, *, task: str = "regression") -> np.ndarray:
    """Argmin sum_k |fft(beta)_k| s.t. X beta = y (task "regression") or y_i <x_i, beta> >= 1 ("margin").

    The l1 norm of the DFT coefficients (complex moduli), the prediction for circular convolutional nets of depth 2
    (Gunasekar et al. 2018). See :func:`fourier_lp_margin` (p = 1) for the method.
    """
    return fourier_lp_margin(X, y, 1.0, task=task)


def fourier_lp_margin(
    X, y, p: float, *, task: str = "margin", eps_min: float = 1e-10, max_iter: int = 2000
) -> np.ndarray:
    """A stationary point of min sum_k |fft(beta)_k|^p under X beta = y ("regression") or margins >= 1 ("margin").

    p = 2/L for a depth-L circular convolutional net; p = 1 is a convex second-order cone program. Solved by
    iteratively reweighted least squares (Daubechies et al. 2010; Chartrand and Yin 2008 for p < 1): each iteration
    minimizes sum_k r_k |fft(beta)_k|^2 = beta^T M beta, r_k = (|fft(beta)_k|^2 + eps^2)^(p/2 - 1), under the
    constraints -- a weighted minimum-norm interpolant in closed form, or a weighted SVM (:func:`l2_max_margin` after
    the change of variables u = chol(M)^T beta) -- and eps shrinks by 10 whenever the iterate settles, down to
    ``eps_min``. For p < 1 the result is the stationary point reached from the l2 solution.
    """
    p = positive_float(p, "p")
    if p > 1:
        raise ValueError(f"p must be in (0, 1], got {p}")
    if task not in ("regression", "margin"):
        raise ValueError(f"task must be 'regression' or 'margin', got {task!r}")
    Xa, ya = _data(X, y, labels=task == "margin")
    n, d = Xa.shape
    F = _dft_matrix(d)
    if task == "margin":
        Z = ya[:, None] * Xa
        _check_separable(Z)
        beta = l2_max_margin(Xa, ya)
    else:
        beta = min_l2_interpolant(Xa, ya)

    def solve(Minv):
        if task == "regression":
            Minv_Xt = Minv @ Xa.T
            return Minv_Xt @ np.linalg.lstsq(Xa @ Minv_Xt, ya, rcond=None)[0]
        Minv_Zt = Minv @ Z.T
        return Minv_Zt @ _svm_dual(Z @ Minv_Zt)

    eps = float(np.abs(F @ beta).max())
    for _ in range(integer(max_iter, "max_iter", minimum=1)):
        # M = F^H diag(r) F has M^-1 = F^H diag(1/r) F / d^2 (F^H F = d I); 1/r stays bounded as eps -> 0
        inv_r = (np.abs(F @ beta) ** 2 + eps**2) ** (1 - p / 2)
        Minv = ((F.conj().T * inv_r) @ F).real / d**2
        new = solve(0.5 * (Minv + Minv.T))
        settled = np.linalg.norm(new - beta) <= 1e-3 * eps * max(1.0, np.linalg.norm(new))
        beta = new
        if settled:
            if eps <= eps_min:
                break
            eps /= 10
    if task == "margin":
        beta = beta / np.min(Z @ beta)  # exactly margin 1 (the inner solves are exact only to rounding)
    return beta


# --- Woodworth et al.'s potential (THEORY.md 3.4) ------------------------------------------------------------------
def _link(u, depth):
    """Beta / alpha^D as a function of the dual variable u, and its derivative."""
    if depth == 2:
        return 2.0 * np.sinh(u), 2.0 * np.cosh(u)
    e = depth / (depth - 2)
    return (1 - u) ** (-e) - (1 + u) ** (-e), e * ((1 - u) ** (-e - 1) + (1 + u) ** (-e - 1))


def _dual_potential(u, depth):
    """H_D with H_D' = link: 2 cosh(u) (D = 2), ((D-2)/2)((1-u)^(-2/(D-2)) + (1+u)^(-2/(D-2))) (D >= 3)."""
    if depth == 2:
        return 2.0 * np.cosh(u)
    c = 2 / (depth - 2)
    return ((depth - 2) / 2) * ((1 - u) ** (-c) + (1 + u) ** (-c))


def woodworth_minimizer(X, y, alpha: float, depth: int = 2, *, tol: float = 1e-13, max_iter: int = 500) -> np.ndarray:
    """Argmin Q_alpha^D(beta) s.t. X beta = y: the gradient-flow limit of beta = w_+^D - w_-^D, w_+-(0) = alpha 1.

    By convex duality the minimizer is beta = alpha^D h(X^T nu) coordinatewise, with h(u) = 2 sinh(u) for D = 2
    (Q's q'(z) = arcsinh(z/2)) and h(u) = (1-u)^(-D/(D-2)) - (1+u)^(-D/(D-2)) on |u| < 1 for D >= 3 (q_D' = h_D^-1).
    nu minimizes the strictly convex dual alpha^D sum_j H(X^T nu)_j - y^T nu (H' = h); damped Newton steps with
    backtracking stay inside the domain. Stops when ||X beta - y|| <= tol ||y||.
    """
    Xa, ya = _data(X, y, labels=False)
    alpha = positive_float(alpha, "alpha")
    depth = integer(depth, "depth", minimum=2)
    scale = alpha**depth

    def dual(nu):
        u = Xa.T @ nu
        if depth > 2 and np.max(np.abs(u)) >= 1:
            return np.inf
        with np.errstate(over="ignore"):  # an overflowing trial point is rejected by the line search
            return scale * np.sum(_dual_potential(u, depth)) - ya @ nu

    nu = np.zeros(Xa.shape[0])
    target = tol * max(np.linalg.norm(ya), 1e-300)
    for _ in range(integer(max_iter, "max_iter", minimum=1)):
        u = Xa.T @ nu
        h, dh = _link(u, depth)
        grad = scale * Xa @ h - ya
        if np.linalg.norm(grad) <= target:
            return scale * h
        hess = scale * (Xa * dh) @ Xa.T
        step = scipy.linalg.solve(hess, -grad, assume_a="pos")
        t, f0, slope = 1.0, dual(nu), grad @ step
        while dual(nu + t * step) > f0 + 1e-4 * t * slope and t > 1e-12:
            t *= 0.5
        if t <= 1e-12:
            break
        nu = nu + t * step
    h, _ = _link(Xa.T @ nu, depth)
    if np.linalg.norm(scale * Xa @ h - ya) > 1e-8 * max(np.linalg.norm(ya), 1.0):
        raise RuntimeError(f"woodworth_minimizer did not converge (alpha={alpha}, depth={depth})")
    return scale * h


def woodworth_potential(beta, alpha: float, depth: int = 2) -> float:
    """Q_alpha^D(beta) = alpha^D sum_j q_D(beta_j / alpha^D), q_D(z) = integral_0^z h_D^{-1} (THEORY.md 3.4).

    D = 2: q(z) = 2 - sqrt(4 + z^2) + z arcsinh(z/2). D >= 3 by Legendre duality, q_D(z) = z u - H_D(u) + H_D(0)
    with u = h_D^{-1}(z) found by bracketing.
    """
    b = float_array(beta, "beta", np.float64, ndim=1)
    alpha = positive_float(alpha, "alpha")
    depth = integer(depth, "depth", minimum=2)
    z = b / alpha**depth
    if depth == 2:
        q = 2 - np.sqrt(4 + z**2) + z * np.arcsinh(z / 2)
    else:
        u = np.array(
            [
                0.0
                if zi == 0
                else scipy.optimize.brentq(lambda s, zi=zi: _link(s, depth)[0] - zi, -1 + 1e-16, 1 - 1e-16)
                for zi in z
            ]
        )
        q = z * u - _dual_potential(u, depth) + _dual_potential(0.0, depth)
    return float(alpha**depth * np.sum(q))
