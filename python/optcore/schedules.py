"""Step-size schedules for :func:`optcore.run_sgd`, and the step sizes the shuffling theorems prescribe.

A schedule becomes, for R runs and K epochs, a table ``eta[r, k]`` (the step size of run r in epoch k) and a
per-run decay ``gamma[r]``; step t (counted from 0 over the whole run) then uses ``eta[r, k] / (1 + gamma[r] t)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._validation import float_array, integer, positive_float

_NO_DECAY = np.zeros(())  # the decay of a schedule made from one float step size (as_schedule's fast path)
_NO_DECAY.flags.writeable = False
_F32_NORMAL = (float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max))


@dataclass(frozen=True)
class StepSchedule:
    """A step-size schedule: ``base`` is (), (R,), (K,) or (R, K) per ``kind``; ``decay`` is () or (R,)."""

    kind: str
    base: np.ndarray
    decay: np.ndarray

    def table(self, runs: int, epochs: int, dtype) -> tuple[np.ndarray, np.ndarray]:
        """The (R, K) step table and (R,) decay in ``dtype``."""
        table, decay = self.compact_table(runs, epochs, dtype)
        return np.ascontiguousarray(np.broadcast_to(table, (runs, epochs))), decay

    def compact_table(self, runs: int, epochs: int, dtype) -> tuple[np.ndarray, np.ndarray]:
        """The step table without repeated rows or columns, and the (R,) decay, in ``dtype``.

        The table has shape (R or 1, K or 1) and broadcasts to the (R, K) table of :meth:`table`: a constant step
        size is (1, 1), per-run steps (R, 1), per-epoch steps shared by the runs (1, K). So the engine's memory for
        step sizes is O(R) unless the user gives an (R, K) schedule.
        """
        base = self.base
        if self.kind == "per_epoch":
            if base.ndim == 1 and base.shape[0] != epochs:
                raise ValueError(f"step_size per epoch must have K = {epochs} entries, got {base.shape[0]}")
            if base.ndim == 2 and base.shape != (runs, epochs):
                raise ValueError(f"step_size per epoch must have shape (R, K) = {(runs, epochs)}, got {base.shape}")
            table = base.reshape(1, -1) if base.ndim == 1 else base
        else:
            if base.ndim == 1 and base.shape[0] != runs:
                raise ValueError(f"step_size has {base.shape[0]} entries (one per run) but there are {runs} runs")
            table = base.reshape(-1, 1)
        decay = self.decay
        if self.kind == "constant" and base.ndim == 0 and decay is _NO_DECAY:  # one positive float step size
            step = base.item()
            if dtype == np.float64 or _F32_NORMAL[0] <= step <= _F32_NORMAL[1]:  # else the general checks below
                return np.full((1, 1), step, dtype=dtype), np.zeros(runs, dtype=dtype)
        if decay.ndim == 1 and decay.shape[0] != runs:
            raise ValueError(f"decay has {decay.shape[0]} entries but there are {runs} runs")
        with np.errstate(over="ignore"):  # an overflowing cast is refused just below
            table = np.ascontiguousarray(table, dtype=dtype)
            decay = np.ascontiguousarray(np.broadcast_to(decay, (runs,)), dtype=dtype)
        if not np.all(table > 0):
            raise ValueError("step sizes must be > 0 (after conversion to the problem's dtype)")
        if not (np.all(np.isfinite(table)) and np.all(np.isfinite(decay))):
            raise ValueError(f"step sizes and decay must be finite in the problem's dtype {np.dtype(dtype)}")
        return table, decay

    @property
    def runs(self) -> int | None:
        """Number of runs the schedule fixes (None if it fits any)."""
        if self.kind == "per_epoch":
            return self.base.shape[0] if self.base.ndim == 2 else None
        if self.base.ndim == 1:
            return self.base.shape[0]
        return self.decay.shape[0] if self.decay.ndim == 1 else None


def _positive_array(value, name: str, ndims) -> np.ndarray:
    arr = float_array(value, name, np.float64, ndim=ndims)
    if not np.all(arr > 0):
        raise ValueError(f"{name} must be > 0 everywhere, got min {arr.min()}")
    return arr


def constant(step_size) -> StepSchedule:
    """The same step size in every step: a scalar, or one per run (R,)."""
    return StepSchedule("constant", _positive_array(step_size, "step_size", (0, 1)), np.zeros(()))


def per_epoch(step_sizes) -> StepSchedule:
    """Step size per epoch: (K,) shared by all runs, or (R, K)."""
    return StepSchedule("per_epoch", _positive_array(step_sizes, "step_sizes", (1, 2)), np.zeros(()))


def inverse_time(step_size, decay) -> StepSchedule:
    """eta_t = step_size / (1 + decay * t), t the step index; both scalars or (R,)."""
    decay = float_array(decay, "decay", np.float64, ndim=(0, 1))
    if not np.all(decay >= 0):
        raise ValueError("decay must be >= 0")
    return StepSchedule("constant", _positive_array(step_size, "step_size", (0, 1)), decay)


def as_schedule(step_size) -> StepSchedule:
    """A StepSchedule from a schedule, a positive scalar or an (R,) array of per-run step sizes."""
    if isinstance(step_size, StepSchedule):
        return step_size
    if type(step_size) is float and 0 < step_size < math.inf:  # the usual call; NaN fails both comparisons
        return StepSchedule("constant", np.array(step_size), _NO_DECAY)
    if step_size is None:
        raise TypeError("step_size is required: a positive number, an (R,) array or an optcore.schedules schedule")
    return constant(step_size)


def to_spec(schedule: StepSchedule):
    """The compact, JSON-ready form of ``schedule`` that :func:`optcore.run_sgd` keeps in ``meta["step_size"]``.

    A float (one constant step size), a list (one constant step size per run), or a dict
    ``{"schedule": "per_epoch", "step_sizes": ...}`` / ``{"schedule": "inverse_time", "step_size": ...,
    "decay": ...}`` holding the arguments as given -- never the (R, K) table. :func:`from_spec` inverts it.
    """
    if schedule.kind == "per_epoch":
        return {"schedule": "per_epoch", "step_sizes": schedule.base.tolist()}
    if schedule.decay is not _NO_DECAY and np.any(schedule.decay != 0):
        return {"schedule": "inverse_time", "step_size": schedule.base.tolist(), "decay": schedule.decay.tolist()}
    return schedule.base.tolist()  # a float for a scalar, a list for per-run step sizes


def from_spec(spec) -> StepSchedule:
    """The schedule that :func:`to_spec` described (bit for bit the same step sizes)."""
    if isinstance(spec, dict):
        if spec.get("schedule") == "per_epoch":
            return per_epoch(spec["step_sizes"])
        if spec.get("schedule") == "inverse_time":
            return inverse_time(spec["step_size"], spec["decay"])
        raise ValueError(f"spec must describe a 'per_epoch' or 'inverse_time' schedule, got {spec!r}")
    return constant(spec)


# --- the theorems' step sizes (THEORY.md section 4) --------------------------------------------------------------


def _checked(n, epochs, mu):
    return integer(n, "n", minimum=1), integer(epochs, "epochs", minimum=1), positive_float(mu, "mu")


def shuffling_step_size(n: int, epochs: int, mu: float, *, c: float = 2.0) -> float:
    """Ahn-Yun-Sra (2020): eta = c log(n K^2) / (mu n K); c = 2 puts the bias at the 1/(nK^2) noise level."""
    n, K, mu = _checked(n, epochs, mu)
    return positive_float(c, "c") * math.log(n * K * K) / (mu * n * K)


def minibatch_rr_step_size(per_worker: int, epochs: int, mu: float, *, workers: int = 1, batch_size: int = 1) -> float:
    """Yun-Rajput-Sra Theorem 1: eta = B log(M N K^2) / (mu N K)."""
    N, K, mu = _checked(per_worker, epochs, mu)
    M, B = integer(workers, "workers", minimum=1), integer(batch_size, "batch_size", minimum=1)
    return B * math.log(M * N * K * K) / (mu * N * K)


def local_rr_step_size(per_worker: int, epochs: int, mu: float, *, workers: int = 1) -> float:
    """Yun-Rajput-Sra Theorem 2: eta = log(M N K^2) / (mu N K)."""
    N, K, mu = _checked(per_worker, epochs, mu)
    M = integer(workers, "workers", minimum=1)
    return math.log(M * N * K * K) / (mu * N * K)


def syncshuf_step_size(
    per_worker: int, epochs: int, mu: float, *, workers: int, batch_size: int = 1, mode: str = "minibatch"
) -> float:
    """Yun-Rajput-Sra Theorems 6 (minibatch: B log(M^2 N K^2)/(mu N K)) and 7 (local: log(M^2 N K^2)/(mu N K))."""
    N, K, mu = _checked(per_worker, epochs, mu)
    M, B = integer(workers, "workers", minimum=1), integer(batch_size, "batch_size", minimum=1)
    factor = B if mode == "minibatch" else 1
    if mode not in ("minibatch", "local"):
        raise ValueError(f"mode must be 'minibatch' or 'local', got {mode!r}")
    return factor * math.log(M * M * N * K * K) / (mu * N * K)


def reference_step_size(n: int, epochs: int, *, c: float = 3.0) -> float:
    """THEORY.md 4.7's simulation: eta = c log(n K) / (n K) with c = 3."""
    n, K = integer(n, "n", minimum=1), integer(epochs, "epochs", minimum=1)
    return positive_float(c, "c") * math.log(n * K) / (n * K)
