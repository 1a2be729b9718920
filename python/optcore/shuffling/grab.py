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


class GradientBalancer:
    """Online gradient balancing (GraB's reordering step) of R independent runs, vectorized over the runs.

    Feed the per-example gradients of an epoch in visit order with :meth:`add`; each gradient, centred by the
    previous epoch's mean gradient (the *stale mean*), gets the sign (+1 or -1) that keeps the running signed sum
    smallest in Euclidean norm (greedy herding, Lu, Guo and De Sa, NeurIPS 2022, Alg. 4). :meth:`next_order` then
    gives the next epoch's order -- the +1 examples in visit order, then the -1 examples in reverse visit order --
    and makes this epoch's mean gradient the stale mean of the next. Memory: O(R d) for the sums, plus the signs
    and indices of the epoch.

    Parameters
    ----------
    runs, dim : int
        R runs of gradients of dimension d.
    stale_mean : array (R, d), optional
        The centring of the first epoch (default 0).
    """

    def __init__(self, runs: int, dim: int, *, stale_mean=None):
        self.runs = integer(runs, "runs", minimum=1)
        self.dim = integer(dim, "dim", minimum=1)
        if stale_mean is None:
            self.stale_mean = np.zeros((self.runs, self.dim))
        else:
            self.stale_mean = np.array(stale_mean, dtype=np.float64).reshape(self.runs, self.dim)
        self.reset_epoch()

    def reset_epoch(self) -> None:
        """Forget the current epoch's gradients (the stale mean stays)."""
        self.running = np.zeros((self.runs, self.dim))
        self.epoch_sum = np.zeros((self.runs, self.dim))
        self._signs: list[np.ndarray] = []
        self._visited: list[np.ndarray] = []

    @property
    def count(self) -> int:
        """Examples fed in the current epoch."""
        return sum(v.shape[1] for v in self._visited)

    def add(self, visited, grads) -> np.ndarray:
        """Balance the next gradients of the epoch; returns their signs, bool (R, b) (True = +1, the front).

        Parameters
        ----------
        visited : array (R, b) of int
            The example indices, in visit order.
        grads : array (R, b, d)
            Their gradients, each at the iterate where it was taken.
        """
        visited = np.asarray(visited, dtype=np.int64)
        grads = np.asarray(grads, dtype=np.float64)
        if visited.ndim != 2 or visited.shape[0] != self.runs:
            raise ValueError(f"visited must have shape (R, b) = ({self.runs}, b), got {visited.shape}")
        if grads.shape != (*visited.shape, self.dim):
            raise ValueError(f"grads must have shape (R, b, d) = {(*visited.shape, self.dim)}, got {grads.shape}")
        if not np.all(np.isfinite(grads)):
            raise ValueError("grads must be finite (a NaN or inf gradient cannot be balanced)")
        signs = np.empty(visited.shape, dtype=bool)
        for t in range(visited.shape[1]):
            c = grads[:, t] - self.stale_mean
            plus = np.sum((self.running + c) ** 2, axis=1) <= np.sum((self.running - c) ** 2, axis=1)
            self.running += np.where(plus[:, None], c, -c)
            signs[:, t] = plus
        self.epoch_sum += grads.sum(axis=1)
        self._signs.append(signs)
        self._visited.append(visited)
        return signs

    def next_order(self, *, epoch_mean=None) -> np.ndarray:
        """The next epoch's order, (R, n) int64; starts a new epoch with this one's mean gradient as stale mean.

        ``epoch_mean`` (R, d) replaces the running mean of the fed gradients (the batch form, :func:`balance_order`,
        passes NumPy's mean of the whole epoch).
        """
        if not self._visited:
            raise ValueError("no gradients were fed in this epoch")
        visited = np.concatenate(self._visited, axis=1)
        signs = np.concatenate(self._signs, axis=1)
        out = np.empty(visited.shape, dtype=np.int64)
        for r in range(self.runs):
            out[r] = np.concatenate([visited[r][signs[r]], visited[r][~signs[r]][::-1]])
        mean = self.epoch_sum / visited.shape[1] if epoch_mean is None else epoch_mean
        self.stale_mean = np.array(mean, dtype=np.float64).reshape(self.runs, self.dim)
        self.reset_epoch()
        return out

    def state_dict(self) -> dict:
        """The balancer's state (NumPy arrays), for checkpoints; see :meth:`load_state_dict`."""
        visited = np.concatenate(self._visited, axis=1) if self._visited else np.zeros((self.runs, 0), np.int64)
        signs = np.concatenate(self._signs, axis=1) if self._signs else np.zeros((self.runs, 0), bool)
        return {
            "stale_mean": self.stale_mean.copy(),
            "running": self.running.copy(),
            "epoch_sum": self.epoch_sum.copy(),
            "visited": visited,
            "signs": signs,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`."""
        shape = (self.runs, self.dim)
        arrays = {k: np.array(state[k], dtype=np.float64) for k in ("stale_mean", "running", "epoch_sum")}
        for name, arr in arrays.items():
            if arr.shape != shape:
                raise ValueError(f"state[{name!r}] must have shape {shape}, got {arr.shape}")
        visited = np.array(state["visited"], dtype=np.int64)
        signs = np.array(state["signs"], dtype=bool)
        if visited.shape != signs.shape or visited.ndim != 2 or visited.shape[0] != self.runs:
            raise ValueError(f"state's visited and signs must both have shape (R, count), got {visited.shape}, "
                             f"{signs.shape}")
        self.stale_mean, self.running, self.epoch_sum = arrays["stale_mean"], arrays["running"], arrays["epoch_sum"]
        self._visited, self._signs = ([visited], [signs]) if visited.shape[1] else ([], [])


def balance_order(grads: np.ndarray, visited: np.ndarray, stale_mean: np.ndarray) -> np.ndarray:
    """The next epoch's order from one epoch's gradients (a whole epoch through :class:`GradientBalancer`).

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
    R, _, d = grads.shape
    balancer = GradientBalancer(R, d, stale_mean=stale_mean)
    balancer.add(visited, grads)
    return balancer.next_order()


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


def prefix_discrepancy(vectors: np.ndarray, order: np.ndarray, *, ord=2) -> float:
    """max_k || sum_{t <= k} (z_order[t] - mean z) ||, the herding objective of an order.

    ``ord`` is the vector norm (:func:`numpy.linalg.norm`'s ``ord``): 2 (default) or ``numpy.inf``, the GraB
    paper's choice.
    """
    centred = vectors[order] - vectors.mean(axis=0)
    return float(np.max(np.linalg.norm(np.cumsum(centred, axis=0), ord=ord, axis=1)))
