"""Certificates for critical points: gradient norm, exact Hessian spectrum, random-direction and higher-order tests.

A point is classified from first- and second-order information when that decides it (a gradient above tolerance:
not critical; lambda_min > 0: strict local minimum; lambda_min < 0: saddle). Where the Hessian is singular --
the Theorem-1 and Theorem-2 minima are not strict -- :func:`random_perturbation_test` searches for descent in
random directions at several radii, and :func:`higher_order_test` estimates the third and fourth directional
derivatives along the Hessian's null space. These two are numerical evidence, not proofs; the exact
certificate of Theorem 1 is :func:`certify_theorem1` (a fixed activation pattern makes the network affine near
the point, so its risk is the least-squares risk of a perturbed affine map).

Deep linear networks (THEORY.md 1.4) have their own exact classifier, :func:`classify_deep_linear`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .._validation import float_array, integer, positive_float
from ..nn import MLP


# --- first and second order ------------------------------------------------------------------------------------------
def gradient_norm(mlp: MLP, params, X, Y) -> float:
    """The Euclidean norm of the loss gradient of ``mlp`` at one parameter vector."""
    _check_mlp(mlp)
    _, g = mlp.loss_and_grad(_one(params, mlp.n_params), X, Y)
    return float(np.linalg.norm(g))


def hessian_spectrum(mlp: MLP, params, X, Y) -> np.ndarray:
    """All eigenvalues (ascending) of the exact dense Hessian of ``mlp`` at one parameter vector (small nets)."""
    _check_mlp(mlp)
    H = mlp.hessian(_one(params, mlp.n_params), X, Y)
    return np.linalg.eigvalsh(0.5 * (H + H.T))


def classify_second_order(grad_norm: float, eigenvalues, *, grad_tol: float = 1e-8, eig_tol: float = 1e-8) -> str:
    """Classify a point from its gradient norm and Hessian eigenvalues.

    Parameters
    ----------
    grad_norm : float
    eigenvalues : array
        The Hessian's eigenvalues.
    grad_tol : float
        Points with a larger gradient norm are ``"not critical"``.
    eig_tol : float
        Relative tolerance: eigenvalues within eig_tol * max|lambda| of 0 count as zero.

    Returns
    -------
    str
        ``"not critical"``, ``"strict local min"`` (all eigenvalues > tol), ``"strict local max"``, ``"saddle"``
        (eigenvalues of both signs beyond tol), or ``"degenerate"`` (singular and no negative eigenvalue, or no
        positive one: second order does not decide; use the higher-order tests).
    """
    grad_tol = positive_float(grad_tol, "grad_tol")
    eig_tol = positive_float(eig_tol, "eig_tol")
    lam = float_array(eigenvalues, "eigenvalues", np.float64, ndim=1)
    if lam.size == 0:
        raise ValueError("eigenvalues must not be empty")
    if not np.isfinite(grad_norm) or grad_norm < 0:
        raise ValueError(f"grad_norm must be a finite number >= 0, got {grad_norm}")
    if grad_norm > grad_tol:
        return "not critical"
    tol = eig_tol * max(float(np.max(np.abs(lam))), 1e-300)
    if lam.min() > tol:
        return "strict local min"
    if lam.max() < -tol:
        return "strict local max"
    if lam.min() < -tol and lam.max() > tol:
        return "saddle"
    return "degenerate"


# --- random directions and higher order ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PerturbationTest:
    """The result of :func:`random_perturbation_test`.

    Attributes
    ----------
    radii : ndarray
    min_change : ndarray
        Per radius, the smallest loss(theta + delta) - loss(theta) seen.
    decreases : ndarray of int
        Per radius, how many perturbations lowered the loss by more than the rounding tolerance.
    samples : int
        Perturbations per radius.
    tolerance : float
        The rounding tolerance on the loss (relative 1e-13 of the loss plus an absolute 1e-300).
    """

    radii: np.ndarray
    min_change: np.ndarray
    decreases: np.ndarray
    samples: int
    tolerance: float

    @property
    def passed(self) -> bool:
        """True when no perturbation lowered the loss."""
        return bool(np.all(self.decreases == 0))


def random_perturbation_test(
    loss: Callable[[np.ndarray], np.ndarray],
    params,
    *,
    radii: Sequence[float] = (1e-3,),
    samples: int = 10_000,
    ball: bool = True,
    seed: int = 0,
    chunk: int = 2048,
) -> PerturbationTest:
    """Evaluate the loss at random perturbations of ``params`` and count those that lower it.

    Parameters
    ----------
    loss : callable
        Batched loss: parameters (R, P) -> losses (R,).
    params : array (P,)
    radii : sequence of float
        Perturbation sizes.
    samples : int
        Perturbations per radius.
    ball : bool
        Uniform in the ball of that radius (True) or on its sphere (False).
    seed : int
    chunk : int
        Perturbations evaluated per call of ``loss``.

    Returns
    -------
    PerturbationTest
    """
    if not callable(loss):
        raise TypeError(f"loss must be callable, got {type(loss).__name__}")
    theta = float_array(params, "params", np.float64, ndim=1)
    radii = np.array([positive_float(r, "radii") for r in np.atleast_1d(radii)])
    samples = integer(samples, "samples", minimum=1)
    chunk = integer(chunk, "chunk", minimum=1)
    rng = np.random.default_rng(seed)
    base = float(np.asarray(loss(theta[None, :])).reshape(-1)[0])
    if not np.isfinite(base):
        raise ValueError(f"the loss at params is not finite ({base})")
    tol = 1e-13 * abs(base) + 1e-300
    P = theta.size
    mins, counts = [], []
    for r in radii:
        lowest, count, done = np.inf, 0, 0
        while done < samples:
            b = min(chunk, samples - done)
            d = rng.standard_normal((b, P))
            d /= np.linalg.norm(d, axis=1, keepdims=True)
            scale = r * (rng.random(b) ** (1.0 / P) if ball else np.ones(b))
            values = np.asarray(loss(theta + scale[:, None] * d), dtype=np.float64).reshape(b)
            change = values - base
            lowest = min(lowest, float(change.min()))
            count += int(np.sum(change < -tol))
            done += b
        mins.append(lowest)
        counts.append(count)
    return PerturbationTest(radii, np.array(mins), np.array(counts), samples, tol)


@dataclass(frozen=True)
class HigherOrderTest:
    """The result of :func:`higher_order_test`.

    Attributes
    ----------
    null_dim : int
        Dimension of the Hessian's numerical null space.
    derivatives : ndarray (directions, 4)
        Estimated first to fourth derivatives of t -> loss(theta + t u) at 0 along each unit direction u of the
        null space.
    min_change : ndarray (directions,)
        The smallest loss(theta + t u) - loss(theta) over the stencil points t.
    verdict : str
        ``"no descent"`` (along every direction the first non-negligible term is of even order and positive, or
        the loss is flat to rounding), ``"descent"`` (some direction has a significant odd term or a negative
        even term or a decrease), or ``"nonsingular"`` (the Hessian has no null space: use second order).
    """

    null_dim: int
    derivatives: np.ndarray
    min_change: np.ndarray
    verdict: str


def higher_order_test(
    loss: Callable[[np.ndarray], np.ndarray],
    params,
    hessian,
    *,
    step: float = 1e-2,
    directions: int = 64,
    null_tol: float = 1e-8,
    seed: int = 0,
) -> HigherOrderTest:
    """Third- and fourth-order directional derivatives along the Hessian's null space.

    A second-order-degenerate point with no descent must have, along every null direction u, vanishing first and
    third derivatives and a non-negative fourth one (zero along exactly flat valleys). This estimates them by
    central differences with step ``step`` along the null-space basis and random combinations of it.

    Parameters
    ----------
    loss : callable
        Batched loss (R, P) -> (R,).
    params : array (P,)
    hessian : array (P, P)
        The exact Hessian at params.
    step : float
        Finite-difference step h; the stencil is t in {0, +-h/2, +-h, +-2h}.
    directions : int
        Random unit directions of the null space tested besides its basis.
    null_tol : float
        Relative tolerance defining the null space (|lambda| <= null_tol * max|lambda|).
    seed : int

    Returns
    -------
    HigherOrderTest
    """
    theta = float_array(params, "params", np.float64, ndim=1)
    P = theta.size
    H = float_array(hessian, "hessian", np.float64, shape=(P, P))
    h = positive_float(step, "step")
    directions = integer(directions, "directions", minimum=0)
    null_tol = positive_float(null_tol, "null_tol")
    lam, Q = np.linalg.eigh(0.5 * (H + H.T))
    null = Q[:, np.abs(lam) <= null_tol * max(float(np.max(np.abs(lam))), 1e-300)]
    if null.shape[1] == 0:
        return HigherOrderTest(0, np.zeros((0, 4)), np.zeros(0), "nonsingular")
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((null.shape[1], directions))
    U = np.hstack([null, null @ mix / np.linalg.norm(mix, axis=0, keepdims=True)]).T  # (D, P), unit rows
    ts = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]) * h
    pts = theta[None, None, :] + ts[None, :, None] * U[:, None, :]
    f = np.asarray(loss(pts.reshape(-1, P)), dtype=np.float64).reshape(U.shape[0], ts.size)
    fm2, fm1, fmh, f0, fph, fp1, fp2 = f.T
    d1 = (fm2 - 8 * fm1 + 8 * fp1 - fp2) / (12 * h)
    d2 = (-fm2 + 16 * fm1 - 30 * f0 + 16 * fp1 - fp2) / (12 * h * h)
    # third derivative at steps h and h/2, Richardson-extrapolated: the O(h^2) error of one stencil would pass
    # the fifth derivative of a quartic valley off as a third derivative
    d3_h = (-fm2 + 2 * fm1 - 2 * fp1 + fp2) / (2 * h**3)
    d3_half = (-fm1 + 2 * fmh - 2 * fph + fp1) / (2 * (h / 2) ** 3)
    d3 = (4 * d3_half - d3_h) / 3
    d4 = (fm2 - 4 * fm1 + 6 * f0 - 4 * fp1 + fp2) / h**4
    derivs = np.stack([d1, d2, d3, d4], axis=1)
    change = f - f0[:, None]
    # rounding of the loss values limits what can be told apart from zero
    noise = 1e-13 * max(abs(float(f0[0])), 1e-300)
    descent = np.any(change < -noise, axis=1)
    # a true third derivative survives extrapolation; a truncation artefact shrinks by O(h^2)
    third = (np.abs(d3) > 0.05 * np.abs(d3_h)) & (np.abs(d3) * (h / 2) ** 3 > 8 * noise)
    negative_fourth = d4 * h**4 < -16 * noise
    verdict = "descent" if np.any(descent | third | negative_fourth) else "no descent"
    return HigherOrderTest(int(null.shape[1]), derivs, change.min(axis=1), verdict)


# --- the exact certificate of Theorem 1 -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Theorem1Certificate:
    """Why the Theorem-1 point is a local minimum, with the numbers that make the argument.

    Attributes
    ----------
    pattern_radius : float
        No hidden unit changes sign on the data within this distance of the point (> 0 required).
    risk : float
        The network's risk at the point.
    ls_risk : float
        The least-squares risk l0; the network output equals the least-squares fit.
    output_error : float
        max_i |f(x_i) - y_bar_i|.
    normal_residual : float
        max_j |X~_j^T (y_bar - y)| / (|X~_j| |y|) over the columns of X~ = [X 1]: the least-squares optimality
        that makes l0 a lower bound of the risk of every affine map.
    holds : bool
        All checks pass: inside ``pattern_radius`` the risk equals l0 + 1/2 |(A - A_bar) X~|^2 >= l0.
    """

    pattern_radius: float
    risk: float
    ls_risk: float
    output_error: float
    normal_residual: float
    holds: bool


def certify_theorem1(construction, X, y) -> Theorem1Certificate:
    """Certify the Step-1 point of :func:`~optcore.landscape.constructions.theorem1` as a local minimum.

    Inside the pattern radius every hidden unit is on one linear piece for every example, so the network is an
    affine map A(theta) x + a(theta); its risk is then 1/2 |A~ X~ - y|^2 = l0 + 1/2 |(A~ - W_bar) X~|^2 by the
    normal equations, never below l0.
    """
    from .constructions import least_squares_fit, pattern_radius

    mlp, theta = construction.mlp, construction.local_min
    X = float_array(X, "X", np.float64, ndim=2)
    y = float_array(y, "y", np.float64, shape=(X.shape[0],))
    radius = pattern_radius(mlp, theta, X)
    _, fitted, l0 = least_squares_fit(X, y)
    out = mlp.forward(theta, X)[:, 0]
    risk = float(mlp.loss_value(theta, X, y))
    normal = _normal_residual(X, fitted - y, y)
    err = float(np.max(np.abs(out - fitted)))
    holds = radius > 0 and normal < 1e-12 and err <= 1e-10 * max(1.0, float(np.max(np.abs(fitted))))
    return Theorem1Certificate(radius, risk, l0, err, normal, bool(holds))


def _normal_residual(X, r, y) -> float:
    """max_j |X~_j^T r| / (|X~_j| |y|) over the columns X~_j of [X 1]: least-squares optimality, free of scale.

    Per column, with every vector scaled to unit maximum first, so that neither a column of scale 1e200 (whose
    norm would overflow, and would make every other column's residual look negligible) nor small targets (whose
    norm would underflow) decide the check.
    """
    Xt = np.hstack([X, np.ones((X.shape[0], 1))])
    col = np.max(np.abs(Xt), axis=0)
    Xt = Xt / np.where(col > 0, col, 1.0)
    ys = float(np.max(np.abs(y))) or 1.0
    num = np.abs(Xt.T @ (r / ys))
    den = np.linalg.norm(Xt, axis=0) * np.linalg.norm(y / ys)
    return float(np.max(np.divide(num, den, out=np.zeros_like(num), where=den > 0)))


# --- deep linear networks (Theorem 4) -----------------------------------------------------------------------------
@dataclass(frozen=True)
class DeepLinearVerdict:
    """The Theorem-4 classification of a point of a deep linear network.

    Attributes
    ----------
    kind : str
        ``"not critical"``, ``"saddle"`` (grad l0(product) != 0 at a critical point: Theorem 4.1),
        ``"global min"`` (grad l0(product) = 0 and l0 convex: Theorem 4.2b) or ``"undetermined"``
        (grad l0(product) = 0, l0 not known to be convex: the point has the type of the product for l0,
        Theorem 4.2a/4.3).
    product : ndarray
        W_{H+1} ... W_1.
    grad_norm : float
        The norm of the gradient of l with respect to all W_j.
    grad_l0_norm : float
        |grad l0(product)|.
    rank_condition : bool
        Some j* has W_{H+1:j*+1} of full row rank and W_{j*-1:1} of full column rank (Theorem 4.3: then the
        types of the point for l and of the product for l0 match exactly).
    grad_tol, grad_l0_tol : float
        The tolerances ``grad_norm`` and ``grad_l0_norm`` were compared with (see :func:`classify_deep_linear`).
    """

    kind: str
    product: np.ndarray
    grad_norm: float
    grad_l0_norm: float
    rank_condition: bool
    grad_tol: float = 0.0
    grad_l0_tol: float = 0.0


def classify_deep_linear(
    weights, grad_l0, *, l0_convex: bool = False, tol: float | None = None, rtol: float = 1e-8
) -> DeepLinearVerdict:
    """Classify a point (W_1, ..., W_{H+1}) of l(W) = l0(W_{H+1} ... W_1) by Theorem 4 / Corollary 5.

    Parameters
    ----------
    weights : sequence of arrays
        W_1 (d1 x dx), ..., W_{H+1} (dy x dH), at least two; hidden widths must be >= min(dx, dy).
    grad_l0 : callable
        The gradient of l0 at a (dy x dx) matrix.
    l0_convex : bool
        l0 is convex (as the squared loss is): then a critical point of l0 is a global minimum.
    tol : float, optional
        An absolute tolerance on both gradient norms. By default the tolerance is relative to the scale of the
        terms the gradients are computed from, so that the verdict does not change when the data are scaled:
        grad l0 at the product P is compared with ``rtol * s``, s = |grad l0(0)| + |grad l0(P) - grad l0(0)|
        (for the squared loss, the sizes |Y'X| and |P X'X| of the two terms whose difference it is), and the
        gradient in (W_1, ..., W_{H+1}) with ``rtol * s * sqrt(sum_j (|W_{H+1:j+1}| |W_{j-1:1}|)^2)``, the same
        scale carried through each layer's chain rule (Frobenius norms).
    rtol : float
        The relative tolerance of the default (1e-8, about the square root of float64's epsilon: rounding
        errors pass, a gradient of a millionth of the scale does not).

    Returns
    -------
    DeepLinearVerdict
    """
    if not callable(grad_l0):
        raise TypeError(f"grad_l0 must be callable, got {type(grad_l0).__name__}")
    if isinstance(weights, np.ndarray) or len(weights) < 2:
        raise ValueError("weights must be a sequence of at least two matrices W_1, ..., W_{H+1}")
    Ws = [float_array(W, f"weights[{j}]", np.float64, ndim=2) for j, W in enumerate(weights)]
    for j in range(1, len(Ws)):
        if Ws[j].shape[1] != Ws[j - 1].shape[0]:
            raise ValueError(
                f"weights[{j}] must have {Ws[j - 1].shape[0]} columns (the rows of weights[{j - 1}]), "
                f"got shape {Ws[j].shape}"
            )
    dx, dy = Ws[0].shape[1], Ws[-1].shape[0]
    hidden = [W.shape[0] for W in Ws[:-1]]
    if min(hidden) < min(dx, dy):
        raise ValueError(f"Theorem 4 needs hidden widths >= min(dx, dy) = {min(dx, dy)}, got {hidden}")
    if tol is not None:
        tol = positive_float(tol, "tol")
    rtol = positive_float(rtol, "rtol")
    L = len(Ws)
    # prefix[j] = W_j ... W_1 (prefix[0] = I), suffix[j] = W_L ... W_{j+1} (suffix[L] = I); 0-based layers here
    prefix = [np.eye(dx)]
    for W in Ws:
        prefix.append(W @ prefix[-1])
    suffix = [np.eye(dy)] * (L + 1)
    for j in range(L - 1, -1, -1):
        suffix[j] = suffix[j + 1] @ Ws[j]
    product = prefix[L]
    G = float_array(grad_l0(product), "grad_l0(product)", np.float64, shape=product.shape)
    grads = [suffix[j + 1].T @ G @ prefix[j].T for j in range(L)]
    if tol is None:
        try:  # the scale of the gradient's terms needs grad l0 at 0 too
            G0 = float_array(grad_l0(np.zeros_like(product)), "grad_l0(0)", np.float64, shape=product.shape)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ValueError(f"the default tolerance needs grad_l0 at the zero matrix ({exc}); pass tol=") from exc
        scale = float(np.linalg.norm(G0) + np.linalg.norm(G - G0))
        chain = float(np.sqrt(sum((np.linalg.norm(suffix[j + 1]) * np.linalg.norm(prefix[j])) ** 2 for j in range(L))))
        tol_l0, tol_w = rtol * scale, rtol * scale * chain
    else:
        tol_l0 = tol_w = tol
    grad_norm = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
    g0 = float(np.linalg.norm(G))
    rank = any(
        np.linalg.matrix_rank(suffix[j + 1]) == suffix[j + 1].shape[0]
        and np.linalg.matrix_rank(prefix[j]) == prefix[j].shape[1]
        for j in range(L)
    )
    if grad_norm > tol_w:
        kind = "not critical"
    elif g0 > tol_l0:
        kind = "saddle"
    elif l0_convex:
        kind = "global min"
    else:
        kind = "undetermined"
    return DeepLinearVerdict(kind, product, grad_norm, g0, bool(rank), tol_w, tol_l0)


def least_squares_l0(X, Y):
    """l0(R) = 1/2 |X R^T - Y|^2 and its gradient (X: m x dx, Y: m x dy, one row per example).

    Returns
    -------
    value, gradient : callable
        Functions of R (dy x dx).
    """
    X = float_array(X, "X", np.float64, ndim=2)
    Y = float_array(Y, "Y", np.float64, ndim=2)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y must have {X.shape[0]} rows (one per example), got shape {Y.shape}")

    def value(R):
        r = X @ np.asarray(R).T - Y
        return 0.5 * float(np.sum(r * r))

    def gradient(R):
        return (X @ np.asarray(R).T - Y).T @ X

    return value, gradient


# --- helpers ------------------------------------------------------------------------------------------------------
def _check_mlp(mlp):
    if not isinstance(mlp, MLP):
        raise TypeError(f"mlp must be an optcore.nn.MLP, got {type(mlp).__name__}")


def _one(params, P):
    p = float_array(params, "params", np.float64, ndim=1)
    if p.shape != (P,):
        raise ValueError(f"params must have shape ({P},), got {p.shape}")
    return p
