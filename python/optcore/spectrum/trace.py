"""The Hessian trace by Hutchinson's estimator and by Hutch++, with a confidence interval and a stopping rule.

Hutchinson: tr H = E[z^T H z] for Rademacher z; the estimate is the mean of m samples, its interval the Student t
interval of that mean. Hutch++ (Meyer, Musco, Musco, Woodruff 2021): a sketch Q (orthonormal basis of H S, S a
P x s Rademacher block) carries the large eigenvalues, whose trace tr(Q^T H Q) is computed exactly; Hutchinson
then estimates the rest, tr((I - QQ^T) H (I - QQ^T)), with samples g^T H g, g = (I - QQ^T) z, whose variance is
much smaller when a few eigenvalues dominate (as in trained networks). The interval is the t interval of that
remainder (the sketched part has no randomness once Q is fixed).

Stopping rule: samples are drawn in blocks until the interval's half-width is at most ``rtol`` |estimate| (after
at least ``min_samples``), or the product budget ``max_hvp`` is spent (``converged`` is then False). Stopping on
the interval itself makes its coverage slightly lower than nominal for few samples; ``min_samples`` (default 30)
keeps that small (the tests measure it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import choice, integer, positive_float
from .batch import HessianBatch, Steps, drive
from .operator import HessianOperator, as_operator

METHODS = ("hutch++", "hutchinson")


@dataclass(frozen=True)
class TraceEstimate:
    """A trace estimate with its confidence interval.

    Attributes
    ----------
    value : float
        The estimate of tr H.
    low, high : float
        The ``confidence`` interval.
    stderr : float
        Standard error of ``value``.
    confidence : float
    samples : ndarray (m,)
        The Hutchinson samples (of the deflated remainder for Hutch++).
    exact_part : float
        tr(Q^T H Q) of the Hutch++ sketch (0 for Hutchinson).
    n_hvp : int
        Hessian-vector products used (sketch included).
    converged : bool
        Whether the stopping rule was met within ``max_hvp``.
    method : str
    """

    value: float
    low: float
    high: float
    stderr: float
    confidence: float
    samples: np.ndarray
    exact_part: float
    n_hvp: int
    converged: bool
    method: str

    @property
    def half_width(self) -> float:
        """(high - low) / 2."""
        return (self.high - self.low) / 2


def trace(
    op: HessianOperator | HessianBatch,
    *,
    method: str = "hutch++",
    rtol: float = 0.01,
    confidence: float = 0.95,
    min_samples: int = 30,
    max_hvp: int = 2000,
    sketch: int | None = None,
    block: int = 10,
    seed: int = 0,
) -> TraceEstimate | list[TraceEstimate]:
    """Estimate tr H with a confidence interval, drawing samples until the interval is within ``rtol``.

    Parameters
    ----------
    op : HessianOperator or HessianBatch
        With a batch of R networks, each gets its own estimate (the same probe vectors, its own stopping time);
        the products of all networks still sampling are one call per round.
    method : {"hutch++", "hutchinson"}
    rtol : float
        Stop when the half-width of the interval is <= rtol |estimate|.
    confidence : float
        Level of the Student t interval, in (0, 1).
    min_samples : int
        Hutchinson samples drawn before the rule is checked (>= 2).
    max_hvp : int
        Budget of products; the estimate at the budget is returned with ``converged=False``.
    sketch : int, optional
        Hutch++ sketch size s (2 s products); default min(P, 20). If s >= P the trace is exact.
    block : int
        Samples per batch of products between checks of the rule.
    seed : int

    Returns
    -------
    TraceEstimate, or a list of R for a HessianBatch
    """
    op = as_operator(op, batch=True)
    method = choice(method, "method", set(METHODS))
    rtol = positive_float(rtol, "rtol")
    confidence = float(confidence)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    min_samples = integer(min_samples, "min_samples", minimum=2)
    block = integer(block, "block", minimum=1)
    max_hvp = integer(max_hvp, "max_hvp", minimum=1)
    P = op.dim
    s = 0
    if method == "hutch++":
        s = min(P, 20) if sketch is None else integer(sketch, "sketch", minimum=1)
        s = min(s, P)
        if 2 * s + min_samples > max_hvp and s < P:
            raise ValueError(f"max_hvp = {max_hvp} is below the sketch's 2 x {s} products plus min_samples = {min_samples}")
    elif min_samples > max_hvp:
        raise ValueError(f"max_hvp = {max_hvp} is below min_samples = {min_samples}")
    return drive(op, lambda: _trace_steps(P, method, s, rtol, confidence, min_samples, max_hvp, block, seed))


def _trace_steps(P, method, s, rtol, confidence, min_samples, max_hvp, block, seed) -> Steps:
    """The estimator for one operator: yields blocks of probe vectors, receives their products."""
    from scipy.stats import t as student_t

    rng = np.random.default_rng([seed, 0x7A3E])
    used = 0
    Q = np.zeros((P, 0))
    exact = 0.0
    if method == "hutch++":
        Y = yield _rademacher(rng, P, s)
        Q, _ = np.linalg.qr(Y)
        exact = float(np.einsum("pk,pk->", Q, (yield Q)))
        used = 2 * s
        if s >= P:  # Q spans everything: the trace is exact
            return TraceEstimate(exact, exact, exact, 0.0, confidence, np.zeros(0), exact, used, True, method)

    samples: list[float] = []
    converged = False
    while True:
        room = max_hvp - used
        want = max(block, min_samples - len(samples))
        m = min(want, room)
        if m <= 0:
            break
        Z = _rademacher(rng, P, m)
        if Q.shape[1]:
            Z = Z - Q @ (Q.T @ Z)
        samples.extend(np.einsum("pk,pk->k", Z, (yield Z)).tolist())
        used += m
        n = len(samples)
        mean = exact + float(np.mean(samples))
        stderr = float(np.std(samples, ddof=1) / np.sqrt(n)) if n > 1 else np.inf
        half = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * stderr if n > 1 else np.inf
        if n >= min_samples and half <= rtol * abs(mean):
            converged = True
            break
    return TraceEstimate(
        mean, mean - half, mean + half, stderr, confidence, np.asarray(samples), exact, used, converged, method
    )


def _rademacher(rng, P: int, m: int) -> np.ndarray:
    return rng.integers(0, 2, size=(P, m)).astype(np.float64) * 2.0 - 1.0
