"""Finite sums given by the user's own NumPy functions, run by the same engine as the built-in problems.

A :class:`UserProblem` holds two functions vectorized over runs:

* ``gradient(X, idx) -> G``: ``X`` of shape (rows, d) holds one iterate per row, ``idx`` of shape (rows, b) the
  global component indices of each row's batch, and ``G`` (rows, d) must be, per row, the **average** of the
  component gradients over that row's batch: ``G[r] = (1/b) sum_j grad f_{idx[r, j]}(X[r])``;
* ``value(X, idx) -> v`` (optional): ``v`` of shape (rows,) the average of the component values ``f_i(X[r])``
  over ``idx[r]``; with it the engine records objectives (and gaps, given ``f_star``).

:func:`optcore.run_sgd` accepts such a problem with every argument it takes for the built-in ones -- the same
orders from the same streams, minibatches, M workers in minibatch or local mode, step-size schedules, recording,
divergence handling -- and gives the results the built-in kind of the same problem gives, up to rounding
(see :mod:`optcore._user_loop` for how the callback is called).

Any subclass of :class:`optcore.problems.Problem` can do the same by defining a method
``batch_gradient(self, X, idx)`` (and, for objective records, ``objective(self, x)`` for x of shape (..., d)).
"""

from __future__ import annotations

import numpy as np

from ._validation import float_array, integer, nonnegative_float
from .problems import Problem


class UserProblem(Problem):
    """F(x) = (1/n) sum_i f_i(x) from a vectorized component-gradient function.

    The engine calls ``gradient`` once per step with the iterates of all live runs (of all workers' copies in
    local mode), so a call with R runs costs K * steps-per-epoch Python calls, not R times that. It is still
    slower than the compiled kinds: on least squares with n = 500, d = 10 (bench/bench_user_problem.py, table in
    bench/README.md), a least-squares callback ran 500-1000x slower than :class:`optcore.LeastSquares` with one
    run at batch 1 (about 45 us per step), 6-7x slower with 1000 runs at batch 1 and 2x at batch 16. Use it for
    losses optcore has no kernel for, with many runs per call.

    Parameters
    ----------
    gradient : callable
        ``gradient(X, idx) -> G``: X (rows, d) iterates in the problem's dtype, idx (rows, b) int64 global
        component indices (0 <= idx < n; worker m of M owns m N .. (m + 1) N - 1), G (rows, d) the average of
        the component gradients over each row's batch. Both inputs are read-only; the rows are independent runs
        (or workers' copies), and b may be smaller at an epoch's end (``remainder="partial"``).
    n : int
        Number of components.
    dim : int
        Dimension d of the iterates.
    value : callable, optional
        ``value(X, idx) -> v`` (rows,): the average of the component values over each row's batch. Needed to
        record ``"objective"``, and ``"gap"`` unless ``hessian`` is given. The objective is
        ``value(X, all n indices)``.
    x_star : array (d,), optional
        A minimizer, for ``"dist"`` records (and ``"gap"`` with ``hessian``).
    f_star : float, optional
        The optimal value, for ``"gap"`` records. Defaults to F(x_star) when ``x_star`` and ``value`` are given.
    hessian : array (d, d), optional
        The constant Hessian of F, for a quadratic F: gaps are then computed as 1/2 e'He with e = x - x_star,
        free of cancellation, as for :class:`optcore.LeastSquares`.
    mu, L, L_F : float, optional
        Strong-convexity and smoothness constants, if known (for step-size helpers; the engine does not use them).
    dtype : float32 or float64
        The dtype of the iterates and of the whole run; ``G`` is converted to it.

    Examples
    --------
    Least squares f_i(x) = 1/2 (a_i'x - b_i)^2, vectorized over runs:

    >>> def gradient(X, idx):
    ...     a = A[idx]                                # (rows, b, d)
    ...     r = np.einsum("rbd,rd->rb", a, X) - b[idx]  # residuals (rows, b)
    ...     return np.einsum("rb,rbd->rd", r, a) / idx.shape[1]
    """

    kind = "user"

    def __init__(
        self,
        gradient,
        n: int,
        dim: int,
        *,
        value=None,
        x_star=None,
        f_star=None,
        hessian=None,
        mu=None,
        L=None,
        L_F=None,
        dtype=np.float64,
    ):
        if not callable(gradient):
            raise TypeError(f"gradient must be a callable gradient(X, idx) -> G, got {type(gradient).__name__}")
        if value is not None and not callable(value):
            raise TypeError(f"value must be a callable value(X, idx) -> v or None, got {type(value).__name__}")
        n, dim = integer(n, "n", minimum=1), integer(dim, "dim", minimum=1)
        super().__init__(n, dim, dtype)
        self._gradient, self._value = gradient, value
        self._all = np.arange(n, dtype=np.int64)  # the batch of all components, for F and grad F
        self.has_objective = value is not None
        if x_star is not None:
            self.x_star = float_array(x_star, "x_star", np.float64, shape=(dim,))
        if hessian is not None:
            H = float_array(hessian, "hessian", np.float64, shape=(dim, dim))
            if np.max(np.abs(H - H.T)) > 1e-12 * max(1.0, float(np.max(np.abs(H)))):
                raise ValueError("hessian must be symmetric")
            if self.x_star is None:
                raise ValueError("hessian= is used for gaps around x_star: give x_star too")
            self.hessian = H
        if f_star is not None:
            self.f_star = float(float_array(f_star, "f_star", np.float64, ndim=0))
        elif self.x_star is not None and value is not None:
            self.f_star = float(self.objective(self.x_star))
        self.mu = None if mu is None else nonnegative_float(mu, "mu")
        self.L = None if L is None else nonnegative_float(L, "L")
        self.L_F = None if L_F is None else nonnegative_float(L_F, "L_F")

    # --- the engine's view: the callbacks -----------------------------------------------------------------------
    def batch_gradient(self, X, idx) -> np.ndarray:
        """Per row r, the average of grad f_i(X[r]) over i in idx[r] (the user's ``gradient``)."""
        return self._gradient(X, idx)

    def batch_value(self, X, idx) -> np.ndarray:
        """Per row r, the average of f_i(X[r]) over i in idx[r] (the user's ``value``)."""
        if self._value is None:
            raise ValueError("this UserProblem has no value= function: give one to evaluate or record objectives")
        return self._value(X, idx)

    # --- NumPy evaluation (Problem's interface, from the callbacks) ------------------------------------------------
    def _rows(self, x) -> tuple[np.ndarray, tuple]:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1:] != (self.dim,):
            raise ValueError(f"x must have shape (..., {self.dim}), got {x.shape}")
        return x.reshape(-1, self.dim), x.shape[:-1]

    def component_gradient(self, i, x) -> np.ndarray:
        """Gradient of f_i at x (d,), from ``gradient`` with a batch of one."""
        i = integer(i, "i", minimum=0, maximum=self.n - 1)
        X, _ = self._rows(x)
        return np.asarray(self._gradient(X[:1], np.full((1, 1), i, dtype=np.int64)), dtype=np.float64)[0]

    def gradient(self, x) -> np.ndarray:
        """Gradient of F at x (d,), from ``gradient`` with the batch of all n components."""
        X, _ = self._rows(x)
        return np.asarray(self._gradient(X[:1], self._all[None, :]), dtype=np.float64)[0]

    def objective(self, x) -> np.ndarray:
        """F(x) for x of shape (d,) or (..., d), from ``value`` with the batch of all n components."""
        X, lead = self._rows(x)
        idx = np.broadcast_to(self._all, (X.shape[0], self.n))
        v = np.asarray(self.batch_value(X, idx), dtype=np.float64)
        if v.shape != (X.shape[0],):
            raise ValueError(f"value(X, idx) must return shape (rows,) = ({X.shape[0]},), got {v.shape}")
        return v.reshape(lead)
