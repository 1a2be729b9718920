"""Exact expected final gaps on THEORY.md 4.7's 1-D instance, for any n, K, step constant c and order.

On f_i(x) = 1/2 (x - b_i)^2 with b = (+1)^{n/2} (-1)^{n/2} every step is x <- a x + eta b_i with a = 1 - eta, so
after T = nK steps

    x_T = a^T x_0 + sum_s w_s b_{i_s},    w_s = eta a^{T - s},

and the gap F(x_T) - F* is x_T^2 / 2 (F(x) = x^2/2 + 1/2, F* = 1/2). Its expectation is a finite sum:

* with replacement: the b_{i_s} are i.i.d., mean 0 and mean square 1, so E x_T^2 = a^{2T} x_0^2 + sum_s w_s^2;
* permutation orders: group the steps by the uniform permutation pi_j whose position p they visit, W_{jp} the sum
  of their weights. Distinct permutations are independent and E b_pi(p) b_pi(q) = 1 (p = q) or -1/(n-1)
  (p != q, the b sum to 0), so each permutation adds (n sum_p W_jp^2 - (sum_p W_jp)^2) / (n - 1);
* incremental orders are deterministic: x_T itself.

These are the "exact expectations" whose K-slopes THEORY.md 4.7 quotes (K = 16..128 at n = 64, c = 3:
with replacement -0.878, RR -2.562, SS -1.743, IG -1.724).
"""

from __future__ import annotations

import numpy as np

from .._validation import integer, positive_float
from ..schedules import reference_step_size

#: the orders with an exact expectation here (the plain orders and their FlipFlop versions)
EXACT_ORDERS = (
    "with_replacement",
    "random_reshuffling",
    "single_shuffle",
    "incremental",
    "flipflop_rr",
    "flipflop_ss",
    "flipflop_ig",
)


def expected_gap_1d(order: str, n: int, K: int, *, c: float = 3.0, x0: float = 1.0) -> float:
    """E[F(x_K) - F*] on THEORY.md 4.7's instance with n components, K epochs and step c log(nK)/(nK).

    Parameters
    ----------
    order : str
        One of :data:`EXACT_ORDERS` (incremental visits the +1s first, as the instance is built).
    n : int
        Components (even, >= 2).
    K : int
        Epochs.
    c : float
        Step constant: eta = c log(nK) / (nK).
    x0 : float
        Starting point.

    Returns
    -------
    float
        The exact expectation (float64 arithmetic).
    """
    n, K = integer(n, "n", minimum=2), integer(K, "K", minimum=1)
    if n % 2:
        raise ValueError(f"n must be even, got {n}")
    if order not in EXACT_ORDERS:
        raise ValueError(f"order must be one of {', '.join(EXACT_ORDERS)}, got {order!r}")
    eta = reference_step_size(n, K, c=positive_float(c, "c"))
    a, T = 1.0 - eta, n * K
    w = eta * a ** np.arange(T - 1, -1, -1, dtype=np.float64)  # w_s for s = 1..T
    bias = a**T * float(x0)
    if order == "with_replacement":
        return 0.5 * (bias**2 + float(np.sum(w**2)))
    epochs = w.reshape(K, n)  # epochs[k, t]: weight of step t of epoch k
    if order in ("incremental", "flipflop_ig"):
        b = np.where(np.arange(n) < n // 2, 1.0, -1.0)
        reverse = order == "flipflop_ig"
        x = bias + sum(float(epochs[k] @ (b[::-1] if reverse and k % 2 else b)) for k in range(K))
        return 0.5 * x**2
    # W[j, p]: total weight on position p of permutation j (an odd FlipFlop epoch visits its permutation reversed)
    if order == "random_reshuffling":
        W = epochs
    elif order == "single_shuffle":
        W = epochs.sum(axis=0, keepdims=True)
    else:
        flipped = epochs.copy()
        flipped[1::2] = flipped[1::2, ::-1]
        if order == "flipflop_ss":
            W = flipped.sum(axis=0, keepdims=True)
        else:  # flipflop_rr: epochs 2j and 2j + 1 share permutation j
            W = np.add.reduceat(flipped, np.arange(0, K, 2), axis=0)
    variance = float(np.sum((n * np.sum(W**2, axis=1) - np.sum(W, axis=1) ** 2) / (n - 1)))
    return 0.5 * (bias**2 + variance)


def exact_slope_1d(order: str, n: int, Ks, *, c: float = 3.0) -> float:
    """Least-squares slope of log E[gap] against log K over ``Ks`` (at least two distinct), exact expectations."""
    Ks = [integer(k, "K", minimum=1) for k in Ks]
    if len(set(Ks)) < 2:
        raise ValueError(f"a slope needs at least two distinct K, got {Ks}")
    gaps = [expected_gap_1d(order, n, k, c=c) for k in Ks]
    return float(np.polyfit(np.log(Ks), np.log(gaps), 1)[0])


__all__ = ["EXACT_ORDERS", "exact_slope_1d", "expected_gap_1d"]
