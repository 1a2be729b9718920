"""Memorization with ReLU networks of width about sqrt(N) (THEORY.md section 2).

Explicit constructions built and checked in exact rational arithmetic (:func:`memorize`,
:func:`memorize_classes`, the deep :func:`memorize_deep`), their float64 export into :class:`optcore.nn.MLP`, and
the capacity counts.
"""

from .classification import memorize_classes
from .construction import Construction, memorize, minimal_widths, necessary_violation, sufficient_count
from .deep import memorize_deep
from .verify import float64_error, verify_exact

__all__ = [
    "Construction",
    "float64_error",
    "memorize",
    "memorize_classes",
    "memorize_deep",
    "minimal_widths",
    "necessary_violation",
    "sufficient_count",
    "verify_exact",
]
