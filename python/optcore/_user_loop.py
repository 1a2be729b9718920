"""The engine's loop for problems given by a Python callback (:class:`optcore.UserProblem`), in NumPy.

It is the loop of cpp/include/optcore/engine.hpp (``GroupRunner::run_group``) written once over steps and
vectorized over runs: each step makes one call ``problem.batch_gradient(X, idx)`` with the iterates of all live
runs -- in local mode, of all live runs' M worker copies, one row each -- and their batches. The orders come from
the compiled order generator, epoch by epoch, so every run visits exactly the indices the compiled kinds visit.

What is the engine's, step for step:

* minibatch mode: one iterate per run; each step's batch is the M workers' b indices together (rows of M b
  indices), x <- x - eta * (average gradient over the M b components);
* local mode: each worker's copy steps on its own b indices (rows of b indices); the copies are averaged every
  ``sync_every`` local steps and at every epoch end; records between syncs see the copies' average;
* batches: b = B, the last one of an epoch smaller (``remainder="partial"``), or the leftover indices skipped;
* step sizes: eta = table[r, k] / (1 + decay[r] t) in the problem's dtype, t the global step index;
* records: at epoch ends or every ``record_every`` steps; the initial point is record 0;
* divergence: at every epoch end, runs whose iterate is not finite stop (flag set, later records stay NaN). Until
  then such a run keeps stepping, as in the compiled loop; the floating-point warnings NumPy would raise for its
  non-finite numbers inside the callback are silenced, since the run is reported as diverged.

The arithmetic differs from the compiled loop's only in rounding (the average is the callback's, the update a
NumPy expression), so results agree to about 1e-12 relative in float64.
"""

from __future__ import annotations

import numpy as np

from . import _core
from .problems import Problem

#: order codes (optcore.orders.ORDER_CODES) whose indices the user gives: read from the array, not generated
_EXPLICIT = 7


def has_kernel(problem: Problem) -> bool:
    """Whether the problem hands its data to a compiled kernel (the built-in problems and networks)."""
    return type(problem)._data is not Problem._data


def has_callback(problem: Problem) -> bool:
    """Whether the problem gives a vectorized gradient ``batch_gradient(X, idx)`` for this loop."""
    return callable(getattr(problem, "batch_gradient", None))


def can_evaluate_objective(problem: Problem) -> bool:
    """Whether ``problem.objective`` works: a flag the problem sets, else whether its class overrides it."""
    return bool(getattr(problem, "has_objective", type(problem).objective is not Problem.objective))


def check_runnable(problem: Problem) -> bool:
    """True for a callback problem, False for a compiled kind; ``TypeError`` saying what to provide otherwise."""
    if has_kernel(problem):
        return False
    if has_callback(problem):
        return True
    raise TypeError(
        f"{type(problem).__name__} gives the engine nothing to run: a Problem subclass needs either a vectorized "
        f"gradient -- a method batch_gradient(self, X, idx) returning, per row of X (rows, d), the average gradient "
        f"of the components idx (rows, b); or use optcore.UserProblem(gradient, n, dim) -- or a compiled kernel "
        f"(the built-in problems' kind and _data())"
    )


def auto_records(problem: Problem) -> tuple[str, ...]:
    """``record="auto"`` for a problem without an objective: what it can record from x_star and the Hessian."""
    if problem.x_star is None:
        return ()
    if problem.f_star is not None and problem.hessian is not None:
        return ("gap", "dist")
    return ("dist",)


def check_records(problem: Problem, what) -> None:
    """ValueError when a requested record needs an objective the problem cannot evaluate."""
    if can_evaluate_objective(problem):
        return
    needs = [w for w in what if w == "objective" or (w == "gap" and problem.hessian is None)]
    if needs:
        raise ValueError(
            f"record={needs[0]!r} needs the objective, which {type(problem).__name__} cannot evaluate here "
            f"(give UserProblem a value= function, or record 'dist' / 'gap' with x_star and hessian)"
        )


class _Loop:
    """State of one call: iterates, worker copies, the current epoch's orders, which runs are alive."""

    def __init__(self, problem: Problem, x: np.ndarray, run_arrays: dict, spec: dict, rec: dict):
        self.p, self.x, self.rec = problem, x, rec
        self.dtype = x.dtype.type
        self.R, self.d = x.shape
        self.M, self.N, self.count = spec["workers"], spec["per_worker"], spec["count"]
        self.K, self.B = spec["epochs"], spec["batch_size"]
        self.local = spec["mode"] == 1
        self.sync_every, self.record_every = spec["sync_every"], spec["record_every"]
        self.steps = -(-self.count // self.B)
        self.records = self.K + 1 if self.record_every == 0 else self.steps * self.K // self.record_every + 1
        # the engine passes a compact (R or 1, K or 1) table; a broadcast view reads it as (R, K) without copying
        self.table = np.broadcast_to(run_arrays["step_table"], (self.R, self.K))
        self.decay = run_arrays["decay"]
        self.explicit = run_arrays.get("explicit_orders")
        order_arrays = {k: run_arrays[k] for k in ("seeds", "run_ids")}
        if run_arrays.get("base_order") is not None:
            order_arrays["base_order"] = run_arrays["base_order"]
        self.order_spec = {k: spec[k] for k in ("order", "workers", "per_worker", "count")}
        self.order_arrays = order_arrays
        self.offsets = (np.arange(self.M, dtype=np.int64) * self.N)[None, :, None]
        self.decaying = bool(np.any(self.decay != 0))
        self.x_read_only = x.view()  # what the callback sees of the iterates while all runs are alive
        self.x_read_only.flags.writeable = False
        self.alive = np.ones(self.R, dtype=bool)
        self.all_alive = True
        self.copies = np.repeat(x[:, None, :], self.M, axis=1) if self.local else None
        self.x_star = None if rec.get("x_star") is None else rec["x_star"].astype(self.dtype)
        self.hessian = rec.get("hessian")

    def epoch_orders(self, k: int) -> np.ndarray:
        """Global indices (R, M, count) of epoch k: the compiled generator's, or the user's explicit orders."""
        if self.order_spec["order"] == _EXPLICIT:
            e = self.explicit[:, min(k, self.explicit.shape[1] - 1), :, : self.count]
            local = np.broadcast_to(e, (self.R, self.M, self.count))
        else:
            local = _core.epoch_orders(self.order_spec, self.order_arrays, 1, k)[:, 0]
        out = local.astype(np.int64) + self.offsets
        out.flags.writeable = False
        return out

    def gradient(self, X: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """The callback's averaged gradients, checked and in the run's dtype."""
        # The inputs may be views of the loop's own arrays (the iterates, the orders): read-only to the callback.
        if X.flags.writeable:
            X = X.view()
            X.flags.writeable = False
        if idx.flags.writeable:
            idx = idx.view()
            idx.flags.writeable = False
        G = self.p.batch_gradient(X, idx)
        if type(G) is not np.ndarray:
            G = np.asarray(G)
        if G.shape != X.shape:
            raise ValueError(
                f"{type(self.p).__name__}'s gradient(X, idx) returned shape {G.shape}; expected {X.shape}: one "
                f"averaged gradient per row of X (X {X.shape}, idx {idx.shape})"
            )
        return G if G.dtype == self.dtype else G.astype(self.dtype)

    def step_sizes(self, live, k: int, t: int) -> np.ndarray:
        """Step sizes table / (1 + decay t) in the dtype, as the compiled loop (decay 0 leaves the table's value)."""
        if not self.decaying:
            return self.table[live, k]
        return self.table[live, k] / (self.dtype(1) + self.decay[live] * self.dtype(t))

    def run(self) -> None:
        self.record(0, synced=True)
        t, rec_index = 0, 1
        for k in range(self.K):
            orders = self.epoch_orders(k)
            for s in range(self.steps):
                lo = s * self.B
                b = min(self.B, self.count - lo)
                sync = self.local and ((s + 1) % self.sync_every == 0 or s + 1 == self.steps)
                live, rows = self.live_runs()
                if rows:
                    eta = self.step_sizes(live, k, t)
                    batch = orders[live, :, lo : lo + b]
                    if self.local:
                        X = self.copies[live].reshape(-1, self.d)
                        G = self.gradient(X, batch.reshape(-1, b)).reshape(rows, self.M, self.d)
                        copies = self.copies[live] - eta[:, None, None] * G
                        self.copies[live] = copies
                        if sync:
                            mean = self.average(copies)
                            self.x[live] = mean
                            self.copies[live] = mean[:, None, :]
                    else:
                        X = self.x_read_only if self.all_alive else self.x[live]
                        self.x[live] -= eta[:, None] * self.gradient(X, batch.reshape(rows, -1))
                t += 1
                if self.record_every and t % self.record_every == 0:
                    self.record(rec_index, synced=not self.local or sync)
                    rec_index += 1
            self.check_divergence()
            if not self.record_every:
                self.record(rec_index, synced=True)
                rec_index += 1

    def live_runs(self):
        """(index, count) of the live runs: a slice while all are alive (views, no copies), else their indices."""
        if self.all_alive:
            return slice(None), self.R
        live = np.flatnonzero(self.alive)
        return live, live.size

    def average(self, copies: np.ndarray) -> np.ndarray:
        """Mean of the M worker copies (rows, M, d) -> (rows, d), in the dtype."""
        return copies.sum(axis=1, dtype=self.dtype) * (self.dtype(1) / self.dtype(self.M))

    def check_divergence(self) -> None:
        bad = self.alive & ~np.isfinite(self.x).all(axis=1)
        if bad.any():
            self.alive &= ~bad
            self.all_alive = False
            self.rec["diverged"][bad] = 1

    def record(self, index: int, *, synced: bool) -> None:
        """Records of the live runs at record point ``index`` (those of dead runs stay NaN)."""
        live, rows = self.live_runs()
        if not rows:
            return
        X = (self.x[live] if synced else self.average(self.copies[live])).view()
        X.flags.writeable = False  # (a view of the iterates while all runs are alive)
        rec, T = self.rec, self.dtype
        objective = None
        if rec.get("objective") is not None or (rec.get("gap") is not None and self.hessian is None):
            objective = np.asarray(self.p.objective(X), dtype=np.float64).astype(T)
            if objective.shape != (rows,):
                raise ValueError(f"objective(X) returned shape {objective.shape}, expected ({rows},)")
        if rec.get("objective") is not None:
            rec["objective"][live, index] = objective
        if rec.get("gap") is not None:
            if self.hessian is not None:
                e = (X - self.x_star).astype(np.float64)
                rec["gap"][live, index] = 0.5 * np.einsum("ri,ij,rj->r", e, self.hessian.astype(np.float64), e)
            else:
                rec["gap"][live, index] = objective - T(rec["f_star"])
        if rec.get("dist") is not None:
            rec["dist"][live, index] = np.sqrt(np.sum((X - self.x_star) ** 2, axis=1, dtype=T))
        if rec.get("iterates") is not None:
            rec["iterates"][live, index] = X


def run(problem: Problem, x: np.ndarray, run_arrays: dict, spec: dict, rec: dict) -> None:
    """Run all R runs of a callback problem in place on x (R, d), filling the record arrays in ``rec``.

    The arguments are those :func:`optcore.run_sgd` builds for ``optcore._core.run_sgd``.
    """
    # A run whose iterates overflow keeps stepping until its epoch ends (as in the compiled loop); NumPy's
    # warnings about its inf/NaN arithmetic would only repeat the DivergenceWarning run_sgd gives for it.
    with np.errstate(over="ignore", invalid="ignore"):
        _Loop(problem, x, run_arrays, spec, rec).run()
