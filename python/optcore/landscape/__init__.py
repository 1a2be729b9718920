"""Loss landscapes: explicit spurious local minima, their certificates, and how often training finds them.

* :mod:`.constructions` -- Theorem 1 (two-slope activations: the least-squares local minimum and a strictly
  better point) and Theorem 2 (smooth activations on the three-point data set) of Yun, Sra and Jadbabaie (2019).
* :mod:`.certificates` -- gradient norms, exact Hessian spectra, random-direction and higher-order tests, the
  exact Theorem-1 certificate, and the deep-linear critical-point classifier (Theorem 4).
* :mod:`.population` -- the closed-form Gaussian-input population loss of two-layer ReLU nets with exact
  gradient and Hessian (Safran and Shamir 2018).
* :mod:`.search` -- many-start GD + Newton on it, classification and symmetry de-duplication.
* :mod:`.slices` -- 1-D interpolation, filter-normalized random planes, PCA planes of trajectories, Lanczos
  Hessian eigenvalues.
* :mod:`.studies` -- the registered experiments ``spurious-minima`` and ``theorem1-path``.
"""

from . import population
from .activations import SMOOTH_ACTIVATIONS, Activation, get_activation, two_slope
from .certificates import (
    DeepLinearVerdict,
    HigherOrderTest,
    PerturbationTest,
    Theorem1Certificate,
    certify_theorem1,
    classify_deep_linear,
    classify_second_order,
    gradient_norm,
    hessian_spectrum,
    higher_order_test,
    least_squares_l0,
    random_perturbation_test,
)
from .constructions import (
    THEOREM2_X,
    THEOREM2_Y,
    Theorem1,
    Theorem2,
    least_squares_fit,
    pattern_radius,
    theorem1,
    theorem1_minimum,
    theorem2,
    theorem2_conditions,
)
from .search import SearchResult, deduplicate, equivalent, search_minima
from .shallow import ShallowNet

__all__ = [
    "SMOOTH_ACTIVATIONS",
    "THEOREM2_X",
    "THEOREM2_Y",
    "Activation",
    "DeepLinearVerdict",
    "HigherOrderTest",
    "PerturbationTest",
    "SearchResult",
    "ShallowNet",
    "Theorem1",
    "Theorem1Certificate",
    "Theorem2",
    "certify_theorem1",
    "classify_deep_linear",
    "classify_second_order",
    "deduplicate",
    "equivalent",
    "get_activation",
    "gradient_norm",
    "hessian_spectrum",
    "higher_order_test",
    "least_squares_fit",
    "least_squares_l0",
    "pattern_radius",
    "population",
    "random_perturbation_test",
    "search_minima",
    "theorem1",
    "theorem1_minimum",
    "theorem2",
    "theorem2_conditions",
    "two_slope",
]
