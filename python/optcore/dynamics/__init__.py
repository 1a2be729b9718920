"""Normalized-weight dynamics of bias-free ReLU networks under the exponential loss (THEORY.md section 5).

:func:`run_normalized_dynamics` trains bias-free ReLU MLPs by full-batch GD in the C++ engine and returns the layer
norms rho_k(t), their product rho(t), the normalized margin and the loss over time; :mod:`.digits` holds the
PNAS normalized train-vs-test loss study on scikit-learn's bundled digits.
"""

from __future__ import annotations

from .normalized import NormalizedDynamics, layer_norms, normalized_outputs, run_normalized_dynamics

__all__ = ["NormalizedDynamics", "layer_norms", "normalized_outputs", "run_normalized_dynamics"]
