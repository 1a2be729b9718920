"""Shuffling-based SGD studies (THEORY.md sections 4 and 6).

Rate studies with the theorems' step sizes, the minibatch/local/SyncShuf comparison, the SS/RS/GD matrix-product
inequalities, FlipFlop and GraB orders.

The studies are registered experiments (``optcore list``); the building blocks are importable on their own.
"""

from .grab import balance_order, prefix_discrepancy, run_grab
from .matrix_products import count_violations, exact_matrices, exact_norms, monte_carlo_norms, random_instance
from .rates import final_gap_stats, loglog_slope_ci

__all__ = [
    "balance_order",
    "count_violations",
    "exact_matrices",
    "exact_norms",
    "final_gap_stats",
    "loglog_slope_ci",
    "monte_carlo_norms",
    "prefix_discrepancy",
    "random_instance",
    "run_grab",
]
