"""GraB: online Gradient Balancing orders (Lu, Guo, De Sa, NeurIPS 2022; THEORY.md section 6).

During an epoch the examples are visited in some order; each visited example's gradient, centred by the previous
epoch's mean gradient, is given a sign that keeps the running signed sum small (greedy herding). The next epoch
visits the +1 examples in visit order, then the -1 examples in reverse visit order. This is a permutation order
that depends on the gradients, so it cannot be drawn in advance: :func:`run_grab` calls the engine one epoch at a
time with explicit orders, reads the iterates of every step back, and balances in NumPy (vectorized over runs).
"""

from __future__ import annotations

import numpy as np

from .._validation import integer
from ..problems import LeastSquares, Logistic, Problem
from ..sgd import run_sgd


def balance_order(grads: np.ndarray, visited: np.ndarray, stale_mean: np.ndarray) -> np.ndarray:
    """The next epoch's order from one epoch's gradients.

    Parameters
    ----------
    grads : (R, n, d)
        Gradient of the t-th visited example at the iterate where it was visited, in visit order.
    visited : (R, n) int
        The visit order (example indices).
    stale_mean : (R, d)
        The previous epoch's mean gradient (centring).

    Returns
    -------
    (R, n) int64: +1 examples in visit order, then -1 examples in reverse visit order.
    """
    R, n, _ = grads.shape
    running = np.zeros((R, grads.shape[2]))
    signs = np.empty((R, n), dtype=bool)
    for t in range(n):
        c = grads[:, t] - stale_mean
        plus = np.sum((running + c) ** 2, axis=1) <= np.sum((running - c) ** 2, axis=1)
        running += np.where(plus[:, None], c, -c)
        signs[:, t] = plus
    out = np.empty((R, n), dtype=np.int64)
    for r in range(R):
        out[r] = np.concatenate([visited[r][signs[r]], visited[r][~signs[r]][::-1]])
    return out


def _component_gradients(problem: Problem, idx: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Grad f_idx[r, t](xs[r, t]) for linear models, vectorized: (R, n, d)."""
    A = problem._A64[idx]  # (R, n, d)
    z = np.einsum("rtd,rtd->rt", A, xs)
    if isinstance(problem, LeastSquares):
        coef = z - problem._b64[idx]
    elif isinstance(problem, Logistic):
        y = problem._y64[idx]
        coef = problem._dphi(y * z) * y
    else:
        raise TypeError("GraB orders are implemented for LeastSquares and Logistic problems")
    return coef[..., None] * A + problem.l2 * xs


def run_grab(problem: Problem, *, epochs: int, step_size: float, runs: int = 1, x0=None, seed=0) -> dict:
    """SGD with GraB orders; the first epoch is a random permutation (RR's epoch 0 of the same seed).

    Returns a dict with ``gap`` (runs, epochs + 1) at epoch ends, the final ``x`` and the ``orders`` used
    (runs, epochs, n).
    """
    if not isinstance(problem, LeastSquares | Logistic):
        raise TypeError("GraB orders are implemented for LeastSquares and Logistic problems")
    if problem.f_star is None:
        raise ValueError("the problem's optimum must be known (use l2 > 0 for logistic regression)")
    epochs, runs = integer(epochs, "epochs", minimum=1), integer(runs, "runs", minimum=1)
    n, d = problem.n, problem.dim
    from ..orders import epoch_orders

    order = epoch_orders("random_reshuffling", n, 1, seed=seed, runs=runs)[:, 0, 0, :]
    x = np.zeros((runs, d)) if x0 is None else np.broadcast_to(np.asarray(x0, dtype=np.float64), (runs, d)).copy()
    gaps = [problem.objective(x) - problem.f_star]
    stale = np.zeros((runs, d))
    used = []
    for _ in range(epochs):
        res = run_sgd(
            problem,
            order=order[:, None, None, :],
            epochs=1,
            step_size=step_size,
            x0=x,
            runs=runs,
            record_every=1,
            record_iterates=True,
            record=("gap",),
            threads=1,
        )
        before = res.iterates[:, :-1]  # iterate at which the t-th visited example's gradient was taken
        grads = _component_gradients(problem, order, before)
        used.append(order)
        next_order = balance_order(grads, order, stale)
        stale = grads.mean(axis=1)
        x = res.x.astype(np.float64)
        gaps.append(res.gap[:, -1])
        order = next_order
    return {"gap": np.stack(gaps, axis=1), "x": x, "orders": np.stack(used, axis=1)}


def prefix_discrepancy(vectors: np.ndarray, order: np.ndarray) -> float:
    """max_k || sum_{t <= k} (z_order[t] - mean z) ||, the herding objective of an order."""
    centred = vectors[order] - vectors.mean(axis=0)
    return float(np.max(np.linalg.norm(np.cumsum(centred, axis=0), axis=1)))
