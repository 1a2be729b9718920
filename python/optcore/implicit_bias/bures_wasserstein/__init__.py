"""Deep linear generators trained with the Bures-Wasserstein loss (RELATED.md section 2; Brechet et al., ICML 2023).

A generator x = W_N ... W_1 z, z ~ N(0, I), fits a Gaussian target N(0, Sigma_0) by minimizing the squared
Bures-Wasserstein distance between N(0, W W^T + tau I) and the target (tau >= 0 smooths the loss where W is rank
deficient), or the square loss |W W^T - Sigma_0|^2 for comparison.

* :class:`Target`, :class:`LinearGenerator` -- the checked target covariance and the network layout;
* :func:`evaluate`, :func:`generator_loss`, :func:`generator_gradient` -- loss and per-layer gradients at many
  points (C++); :func:`bures_wasserstein_loss`, :func:`bures_wasserstein_gradient` -- end to end;
  :func:`bures_wasserstein_distance` -- BW^2 of two covariances;
* :func:`critical_point`, :func:`critical_points`, :func:`minimizer`, :func:`optimal_loss` -- the rank-bounded
  critical points in closed form; :func:`factor`, :func:`balanced_layers` -- parameters that realize them;
* :func:`init_normal`, :func:`init_balanced`, :func:`init_close` -- the three initializations;
* :func:`run_generator_gd` -- full-batch GD of many runs in one C++ call (loss, gradient norm, balance drift, W);
* :func:`step_size_bound` -- the GD step-size constants of Brechet et al.'s code;
* :func:`hessian`, :func:`hessian_operator` -- parameter-space Hessians (for :mod:`optcore.spectrum`).

See docs/bures-wasserstein.md.
"""

from __future__ import annotations

from .critical import CriticalPoint, balanced_layers, critical_point, critical_points, factor, minimizer, optimal_loss
from .gd import GeneratorGDResult, run_generator_gd
from .generator import LinearGenerator
from .hessian import hessian, hessian_operator
from .init import INITS, init_balanced, init_close, init_normal, initialize
from .losses import (
    LOSSES,
    bures_wasserstein_distance,
    bures_wasserstein_gradient,
    bures_wasserstein_loss,
    evaluate,
    generator_gradient,
    generator_loss,
)
from .step_size import StepSizeBound, step_size_bound
from .target import Target

__all__ = [
    "INITS",
    "LOSSES",
    "CriticalPoint",
    "GeneratorGDResult",
    "LinearGenerator",
    "StepSizeBound",
    "Target",
    "balanced_layers",
    "bures_wasserstein_distance",
    "bures_wasserstein_gradient",
    "bures_wasserstein_loss",
    "critical_point",
    "critical_points",
    "evaluate",
    "factor",
    "generator_gradient",
    "generator_loss",
    "hessian",
    "hessian_operator",
    "init_balanced",
    "init_close",
    "init_normal",
    "initialize",
    "minimizer",
    "optimal_loss",
    "run_generator_gd",
    "step_size_bound",
]
