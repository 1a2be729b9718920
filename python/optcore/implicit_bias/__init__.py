"""Implicit bias of linear tensor networks (THEORY.md section 3).

Fully connected, diagonal, circular convolutional and orthogonally decomposable linear networks trained by full-batch
GD in the C++ core (:func:`run_gd`), the limits the theory predicts computed independently with scipy
(:mod:`~optcore.implicit_bias.predictions`), and distances between the two over time. Deep linear generators trained with the Bures-Wasserstein loss are the
subpackage :mod:`~optcore.implicit_bias.bures_wasserstein`.
"""

from __future__ import annotations

from . import bures_wasserstein
from .distances import angle, direction_error, normalized_error
from .gd import TensorGDResult, log_schedule, run_gd
from .networks import Convolutional, Diagonal, FullyConnected, LinearTensorNet, Odeco, Reparametrized, alpha_grid
from .predictions import (
    fourier_lp_margin,
    fourier_min_l1,
    l2_max_margin,
    lp_margin_kkt_residual,
    lp_max_margin,
    min_l1_interpolant,
    min_l2_interpolant,
    woodworth_minimizer,
    woodworth_potential,
)

__all__ = [
    "bures_wasserstein",
    "Convolutional",
    "Diagonal",
    "FullyConnected",
    "LinearTensorNet",
    "Odeco",
    "Reparametrized",
    "TensorGDResult",
    "alpha_grid",
    "angle",
    "direction_error",
    "fourier_lp_margin",
    "fourier_min_l1",
    "l2_max_margin",
    "log_schedule",
    "lp_margin_kkt_residual",
    "lp_max_margin",
    "min_l1_interpolant",
    "min_l2_interpolant",
    "normalized_error",
    "run_gd",
    "woodworth_minimizer",
    "woodworth_potential",
]
