"""Many-start search for spurious local minima of the two-layer ReLU population loss (Safran and Shamir 2018).

Each start W ~ N(0, 1/k) (n x k, the authors' initialization) runs gradient descent with a fixed step on the
closed-form loss of :mod:`.population`, all starts at once in NumPy; once a start's gradient norm is below
``newton_tol`` (and its loss is not already at the global value) Newton's method with the exact Hessian polishes
it to gradient norm <= ``grad_tol``. Every end point is then classified:

* ``global``: loss <= ``global_tol`` (the global minimum value is 0 when n >= k);
* ``spurious``: loss > ``global_tol``, gradient norm <= ``grad_tol`` and lambda_min(Hessian) > ``eig_tol``
  (a strict local minimum that is not global, by the second-order sufficient condition);
* ``undetermined``: anything else (not converged, a saddle, or a singular Hessian), with the reason.

Spurious minima are de-duplicated up to the symmetries of the problem (:func:`equivalent`): permutations of the
student neurons and, for the orthonormal teacher V = I, simultaneous permutations of the coordinates (which
permute the teacher's neurons).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import integer, positive_float
from . import population

_TWO_PI = 2.0 * np.pi


@dataclass(frozen=True)
class SearchResult:
    """End points of a many-start search and their classification.

    Attributes
    ----------
    k, n : int
        Teacher and student widths (input dimension d = k, teacher V = I_k).
    W : ndarray (starts, n, k)
        End points.
    loss, grad_norm, lambda_min : ndarray (starts,)
        Population loss, gradient norm and smallest Hessian eigenvalue at the end points (lambda_min is NaN
        where it was not needed: global end points).
    label : ndarray of str (starts,)
        ``global``, ``spurious`` or ``undetermined``.
    reason : ndarray of str (starts,)
        Why a point is undetermined (``not converged``, ``saddle``, ``degenerate``), empty otherwise.
    gd_steps, newton_steps : ndarray of int (starts,)
    distinct : list of int
        Indices of one representative per class of equivalent spurious minima.
    settings : dict
        The options of the search.
    """

    k: int
    n: int
    W: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    lambda_min: np.ndarray
    label: np.ndarray
    reason: np.ndarray
    gd_steps: np.ndarray
    newton_steps: np.ndarray
    distinct: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def fraction(self, label: str) -> float:
        """The fraction of starts with this label."""
        return float(np.mean(self.label == label))


def _fast_gradient(W, nv, Vh, V, idx):
    """Gradient and loss for GD iterations (no (starts, n, n+k, d) tensor).

    Uses sin t = sqrt(1 - cos^2 t), which loses digits at tiny angles; the final gradient norms and the Newton
    steps use the accurate :mod:`.population` functions.
    """
    nw = np.sqrt(np.einsum("sid,sid->si", W, W))
    Wh = W / nw[..., None]
    cs = np.clip(Wh @ np.swapaxes(Wh, -1, -2), -1.0, 1.0)
    ct = np.clip(Wh @ Vh.T, -1.0, 1.0)
    ths, tht = np.arccos(cs), np.arccos(ct)
    ss, st = np.sqrt(1.0 - cs * cs), np.sqrt(1.0 - ct * ct)
    ss[:, idx, idx] = 0.0
    bs = np.pi - ths
    bs[:, idx, idx] = 0.0
    a = (ss * nw[:, None, :]).sum(-1) - (st * nv).sum(-1)
    g = (a[..., None] * Wh + bs @ W - (np.pi - tht) @ V) / _TWO_PI + 0.5 * W
    Gs = nw[:, :, None] * nw[:, None, :] * (ss + bs * cs)
    Gs[:, idx, idx] = np.pi * nw**2
    Gt = nw[:, :, None] * nv * (st + (np.pi - tht) * ct)
    return g, (0.5 * Gs.sum((1, 2)) - Gt.sum((1, 2))) / _TWO_PI


def search_minima(
    k: int,
    n: int | None = None,
    *,
    starts: int = 100,
    seed: int = 0,
    step: float | None = None,
    max_steps: int = 20_000,
    newton_tol: float = 1e-5,
    grad_tol: float = 1e-10,
    global_tol: float = 1e-6,
    eig_tol: float = 1e-9,
    dedup_tol: float = 1e-6,
    newton_every: int = 100,
    progress=None,
) -> SearchResult:
    """Run GD from ``starts`` random initializations, polish with Newton, classify and de-duplicate.

    Parameters
    ----------
    k : int
        Teacher neurons (and input dimension), >= 1; the teacher is V = I_k.
    n : int, optional
        Student neurons (default k).
    starts : int
        Random initializations W_ij ~ N(0, 1/k).
    seed : int
    step : float, optional
        GD step size (default 5/k, the authors' choice).
    max_steps : int
        GD steps at most; starts that have not reached ``newton_tol`` by then are ``undetermined``.
    newton_tol : float
        Gradient norm at which GD hands a start to Newton's method.
    grad_tol : float
        Gradient norm required of a critical point.
    global_tol : float
        Loss at or below which an end point counts as a global minimum.
    eig_tol : float
        Relative tolerance: lambda_min > eig_tol * lambda_max makes a strict minimum.
    dedup_tol : float
        Frobenius distance under which two spurious minima (after the best permutations) are the same.
    newton_every : int
        GD steps between Newton attempts on the starts whose gradient norm is below ``newton_tol``.
    progress : callable, optional
        Wraps the GD loop's ``range`` to report progress, e.g. :func:`optcore.experiments.progress` (a bar when
        the search runs inside a visible sweep); the loop may end before its last step, when every start is done.

    Returns
    -------
    SearchResult
    """
    k = integer(k, "k", minimum=1)
    n = k if n is None else integer(n, "n", minimum=1)
    starts = integer(starts, "starts", minimum=1)
    seed = integer(seed, "seed", minimum=0)
    step = 5.0 / k if step is None else positive_float(step, "step")
    max_steps = integer(max_steps, "max_steps", minimum=0)
    newton_tol = positive_float(newton_tol, "newton_tol")
    grad_tol = positive_float(grad_tol, "grad_tol")
    global_tol = positive_float(global_tol, "global_tol")
    eig_tol = positive_float(eig_tol, "eig_tol")
    dedup_tol = positive_float(dedup_tol, "dedup_tol")
    newton_every = integer(newton_every, "newton_every", minimum=1)
    if grad_tol > newton_tol:
        raise ValueError(f"grad_tol ({grad_tol}) must be <= newton_tol ({newton_tol})")

    V = np.eye(k)
    nv = np.ones(k)
    teacher_half = 0.5 * k * 0.5  # 1/2 sum_j |v_j|^2 / 2: orthogonal teacher neurons have g(v_j, v_j') = 1/(2 pi)
    teacher_half += 0.5 * k * (k - 1) / _TWO_PI
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((starts, n, k)) / np.sqrt(k)
    idx = np.arange(n)
    gd_steps = np.zeros(starts, dtype=np.int64)
    newton_steps = np.zeros(starts, dtype=np.int64)
    retry_below = np.full(starts, newton_tol)  # a start that Newton could not finish retries once |g| is 10x smaller
    active = np.arange(starts)
    # per-start step with a safeguard: a step that raises the loss is undone and the start's step halved (the
    # authors' 5/k is stable for n = k; an over-parameterized student can overshoot near a vanishing neuron)
    eta = np.full(starts, step)
    prev_W, prev_f = W.copy(), np.full(starts, np.inf)
    loop = range(max_steps + 1) if progress is None else progress(range(max_steps + 1), desc=f"GD steps, k = {k}")
    for t in loop:
        if active.size == 0:
            break
        g, f = _fast_gradient(W[active], nv, V, V, idx)
        gn = np.sqrt(np.einsum("sid,sid->s", g, g))
        pf = prev_f[active]
        bad = ~np.isfinite(f) | ~np.isfinite(gn) | (f > pf + 1e-12 * (np.abs(pf) + 1.0))
        if np.any(bad):
            back = active[bad]
            W[back] = prev_W[back]
            eta[back] *= 0.5
            if np.any(eta[back] < 1e-12 * step):
                raise FloatingPointError(f"GD cannot decrease the loss even with step {eta[back].min():.3g}")
            keep_rows = ~bad
            active, g, f, gn = active[keep_rows], g[keep_rows], f[keep_rows], gn[keep_rows]
        prev_W[active], prev_f[active] = W[active], f
        # a start at the global value with a singular Hessian (n > k) may converge too slowly to reach newton_tol
        done = (gn <= 0.1 * grad_tol) | (f + teacher_half <= 1e-3 * global_tol)
        try_newton = ~done & (gn <= retry_below[active]) & ((t % newton_every == 0) | (t == max_steps))
        moved = np.zeros(active.size, dtype=bool)
        if np.any(try_newton):
            who = active[try_newton]
            W[who], steps, final = _newton(W[who], V, grad_tol)
            newton_steps[who] += steps
            prev_f[who] = np.inf  # Newton lowers the gradient, not necessarily the loss: restart the safeguard
            finished = final <= grad_tol
            retry_below[who[~finished]] = 0.1 * np.minimum(final[~finished], gn[try_newton][~finished])
            done[np.flatnonzero(try_newton)[finished]] = True
            moved[np.flatnonzero(try_newton)] = steps > 0  # their gradient g is stale: recompute before a GD step
        if t == max_steps:
            break
        stepping = ~done & ~moved
        W[active[stepping]] -= eta[active[stepping], None, None] * g[stepping]
        gd_steps[active[stepping]] += 1
        active = active[~done]
        if np.any(bad):
            active = np.concatenate([active, back])  # undone steps: retried with half the step

    if hasattr(loop, "close"):
        loop.close()  # a bar left by `break` (every start done) is cleared now

    # global end points stopped by their loss: polish those with a nonsingular Hessian (n = k) as well
    rest = np.flatnonzero(np.sqrt(np.sum(population.gradient(W, V) ** 2, axis=(1, 2))) > grad_tol)
    if rest.size:
        W[rest], steps, _ = _newton(W[rest], V, grad_tol)
        newton_steps[rest] += steps
    loss = population.loss(W, V)
    grad_norm = np.sqrt(np.sum(population.gradient(W, V) ** 2, axis=(1, 2)))
    lambda_min = np.full(starts, np.nan)
    label = np.full(starts, "global", dtype=object)
    reason = np.full(starts, "", dtype=object)
    rest = np.flatnonzero(loss > global_tol)
    for chunk in np.array_split(rest, max(1, rest.size // 64)):
        if chunk.size == 0:
            continue
        lam = np.linalg.eigvalsh(population.hessian(W[chunk], V))
        lambda_min[chunk] = lam[:, 0]
        strict = lam[:, 0] > eig_tol * lam[:, -1]
        critical = grad_norm[chunk] <= grad_tol
        label[chunk] = np.where(strict & critical, "spurious", "undetermined")
        why = np.where(~critical, "not converged", np.where(lam[:, 0] < -eig_tol * lam[:, -1], "saddle", "degenerate"))
        reason[chunk] = np.where(strict & critical, "", why)
    distinct = deduplicate(W, np.flatnonzero(label == "spurious"), loss, tol=dedup_tol)
    settings = dict(
        starts=starts,
        seed=seed,
        step=step,
        max_steps=max_steps,
        newton_tol=newton_tol,
        grad_tol=grad_tol,
        global_tol=global_tol,
        eig_tol=eig_tol,
        dedup_tol=dedup_tol,
        newton_every=newton_every,
        step_halvings=int(np.sum(np.round(np.log2(step / eta)))),
    )
    return SearchResult(
        k,
        n,
        W,
        loss,
        grad_norm,
        lambda_min,
        label.astype(str),
        reason.astype(str),
        gd_steps,
        newton_steps,
        distinct,
        settings,
    )


def _newton(W, V, grad_tol, *, max_iter: int = 12):
    """Newton's method on each start while its Hessian is positive definite and the gradient norm falls.

    Returns the new points, the Newton steps taken and the final (accurate) gradient norms.
    """
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    W = W.copy()
    shape = W.shape[1:]
    steps = np.zeros(W.shape[0], dtype=np.int64)
    gn = np.sqrt(np.sum(population.gradient(W, V) ** 2, axis=(1, 2)))
    for s in range(W.shape[0]):
        w = W[s]
        for _ in range(max_iter):
            if gn[s] <= 0.1 * grad_tol:  # a little below the tolerance, so that rounding does not decide
                break
            g = population.gradient(w, V).ravel()
            try:
                factor = cho_factor(population.hessian(w, V), check_finite=False)
            except LinAlgError:  # not positive definite: not in a strict minimum's basin, leave it to GD
                break
            trial = w - cho_solve(factor, g, check_finite=False).reshape(shape)
            if np.any(np.linalg.norm(trial, axis=-1) == 0):
                break
            g_new = float(np.linalg.norm(population.gradient(trial, V)))
            if not g_new < gn[s]:
                break
            w, gn[s] = trial, g_new
            steps[s] += 1
        W[s] = w
    return W, steps, gn


# --- symmetry de-duplication ----------------------------------------------------------------------------------------
def equivalent(A, B, *, tol: float = 1e-6, coordinates: bool = True) -> bool:
    """Whether B = P A Q up to Frobenius distance ``tol`` for permutation matrices P (neurons) and Q (coordinates).

    The neuron permutation alone is found exactly by an assignment problem. With ``coordinates`` (the symmetry of
    an identity teacher), the pair (P, Q) is searched by alternating assignment problems started from the
    columns' sorted entries; a ``True`` is always verified (no false merges), a ``False`` may miss an
    equivalence that the heuristic does not find.
    """
    from scipy.optimize import linear_sum_assignment

    A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
    if A.shape != B.shape or A.ndim != 2:
        raise ValueError(f"A and B must be matrices of one shape, got {A.shape} and {B.shape}")

    def rows(A, B):  # best row permutation of B onto A
        cost = np.sum((A[:, None, :] - B[None, :, :]) ** 2, axis=-1)
        return linear_sum_assignment(cost)[1]

    if not coordinates:
        return bool(np.linalg.norm(A - B[rows(A, B)]) <= tol)
    # start: match columns by their sorted entries (invariant under row permutations)
    sa, sb = np.sort(A, axis=0), np.sort(B, axis=0)
    col = linear_sum_assignment(np.sum((sa[:, :, None] - sb[:, None, :]) ** 2, axis=0))[1]
    for _ in range(6):
        r = rows(A, B[:, col])
        Br = B[r]
        col_new = linear_sum_assignment(np.sum((A[:, :, None] - Br[:, None, :]) ** 2, axis=0))[1]
        if np.linalg.norm(A - Br[:, col_new]) <= tol:
            return True
        if np.array_equal(col_new, col):
            break
        col = col_new
    return False


def deduplicate(W, indices, loss, *, tol: float = 1e-6) -> list:
    """One representative index per class of equivalent points among ``W[indices]`` (see :func:`equivalent`)."""
    reps: list[int] = []
    for i in indices:
        for j in reps:
            if abs(loss[i] - loss[j]) <= 1e-9 * max(loss[j], 1e-12) + 1e-14 and equivalent(W[j], W[i], tol=tol):
                break
        else:
            reps.append(int(i))
    return reps
