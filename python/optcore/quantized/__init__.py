"""Quantized networks and coarse gradients (Yin, Zhang, Lyu, Osher, Qi, Xin 2019: BCGD; RELATED.md section 3).

* :class:`QuantizedNetworkProblem`: networks with binary, ternary or b-bit weights trained by BinaryConnect or
  blended coarse gradient descent through :func:`optcore.run_sgd`, many networks at once (quantized activations
  with a straight-through estimator: ``optcore.nn.MLP(activation="quantized")``), BCGD's rho growing per
  epoch, and activation resolutions learned per hidden layer (``learn_alpha=True``).
* :class:`GaussianModel`, :func:`coarse_gradient_descent`: the two-linear-layer model with Gaussian input,
  its population loss, true gradients and expected coarse gradients in closed form.

docs/quantized.md walks through both and the ``coarse-gradient`` experiment.
"""

from .gaussian import CLOSED_FORM_STES, STES, GaussianModel, angle, coarse_gradient_descent
from .network import DEFAULT_ALPHA, WEIGHT_QUANTIZERS, QuantizedNetworkProblem

__all__ = [
    "CLOSED_FORM_STES",
    "DEFAULT_ALPHA",
    "STES",
    "WEIGHT_QUANTIZERS",
    "GaussianModel",
    "QuantizedNetworkProblem",
    "angle",
    "coarse_gradient_descent",
]
