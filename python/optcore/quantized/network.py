"""Networks with quantized weights trained by coarse gradients: BinaryConnect and BCGD through :func:`run_sgd`.

:class:`QuantizedNetworkProblem` is a :class:`optcore.nn.NetworkProblem` whose weights are quantized at every
evaluation. The engine (``run_sgd``, many networks at once, any order and batch size) keeps the float ("latent")
weights w as the iterate; each step quantizes the chosen layers' weight matrices, q = Q(w), takes the batch
gradient g at q (the coarse gradient when the activation is quantized too, ``MLP(activation="quantized")``), and
updates the quantized entries by

    w <- ((1 - rho) w + rho q) - (eta / b) g        (blended coarse gradient descent, BCGD; Yin et al. 2019)

and every other entry (biases, full-precision layers) by plain SGD, w <- w - (eta / b) g. ``rho = 0`` is
BinaryConnect (Courbariaux et al. 2015): exactly SGD on w with the gradient taken at Q(w). The objective and the
accuracy recorded for an iterate are those of the quantized network, at Q(w).

Weight quantizers (per weight matrix of n entries; the paper code's ``util/quant.py``, sign(0) = 0):

* ``"binary"``: delta sign(w) with delta = mean |w|;
* ``"ternary"``: t = 0.7 mean |w|, q = s sign(w) 1{|w| >= t} with s = (sum of |w| over |w| >= t) / n;
* ``"bits"`` (``weight_bits`` = b >= 2): delta = max |w| / (2^b - 1), level k = j on ((2j - 1) delta,
  (2j + 1) delta] capped at 2^(b-1) - 1, q = s k sign(w) with the least-squares scale s = sum |w| k / sum k^2
  (b = 4 is the paper code's 4-bit quantizer);
* ``"sign"``: sign(w), the fixed set {-1, +1} without a scale.

Sums run in float64 in index order and each scale is rounded once to the network's dtype (mlp_quant.hpp).
Differences from the paper's training: plain SGD steps (no momentum, no weight decay) and a constant rho (the paper
code can raise rho each epoch).
"""

from __future__ import annotations

import numpy as np

from .. import _core
from .._validation import choice, float_array, integer
from ..nn import MLP, NetworkProblem

WEIGHT_QUANTIZERS = {"binary": 1, "ternary": 2, "bits": 3, "sign": 4}
MAX_WEIGHT_BITS = 16


def _rho(value) -> float:
    """rho as a float in [0, 1], else TypeError / ValueError naming it."""
    rho = float(float_array(value, "rho", np.float64, ndim=0))
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"rho must be in [0, 1] (the blending weight of BCGD; 0 is BinaryConnect), got {value!r}")
    return rho


def _layers(quantize_layers, count: int) -> np.ndarray:
    """The (layers,) 0/1 mask of quantized layers from "all", "inner" or a sequence of layer indices."""
    if isinstance(quantize_layers, str):
        which = choice(quantize_layers, "quantize_layers", {"all", "inner"})
        mask = np.ones(count, dtype=np.uint8)
        if which == "inner":  # full-precision first and last layers
            if count < 3:
                raise ValueError(f"quantize_layers='inner' keeps the first and last layers in full precision, which "
                                 f"leaves no layer to quantize in a network of {count} layers")
            mask[0] = mask[-1] = 0
        return mask
    indices = np.asarray(quantize_layers)
    if indices.ndim != 1 or indices.size < 1 or indices.dtype.kind not in "iu":
        raise ValueError(f"quantize_layers must be 'all', 'inner' or a non-empty sequence of layer indices, "
                         f"got {quantize_layers!r}")
    if np.any(indices < 0) or np.any(indices >= count) or len(set(indices.tolist())) != indices.size:
        raise ValueError(f"quantize_layers must hold distinct layer indices in 0..{count - 1}, got {indices.tolist()}")
    mask = np.zeros(count, dtype=np.uint8)
    mask[indices] = 1
    return mask


class QuantizedNetworkProblem(NetworkProblem):
    """A network with quantized weights and its data as a finite-sum problem of :func:`optcore.run_sgd`.

    Parameters
    ----------
    mlp : optcore.nn.MLP
        The architecture (fully connected; ``activation="quantized"`` for quantized activations as well).
    X, Y : arrays
        Training data, as for :class:`optcore.nn.NetworkProblem`.
    weights : {"binary", "ternary", "bits", "sign"}
        The weight quantizer (module docstring).
    weight_bits : int, optional
        Bits b of the ``"bits"`` quantizer, 2 <= b <= 16 (required there, refused for the others).
    rho : float
        Blending weight of BCGD in [0, 1]; 0 (the default) is BinaryConnect.
    quantize_layers : "all", "inner" or sequence of int
        Which layers' weight matrices are quantized: all, all but the first and the last (full-precision ends,
        as in the paper's ImageNet runs), or the listed layer indices (0-based). Biases are never quantized.

    Notes
    -----
    ``objective``, ``gradient`` and ``component_gradient`` are those of the quantized network: the loss at Q(x)
    and the (coarse) gradient at Q(x). Masked or tied networks are refused.
    """

    def __init__(self, mlp: MLP, X, Y, *, weights: str = "binary", weight_bits=None, rho=0.0,
                 quantize_layers="all"):
        if not isinstance(mlp, MLP):
            raise TypeError(f"mlp must be an optcore.nn.MLP, got {type(mlp).__name__}")
        if mlp.structured:
            raise ValueError("masked or tied networks (masks=, ties=) cannot have quantized weights")
        self.weights = choice(weights, "weights", set(WEIGHT_QUANTIZERS))
        if self.weights == "bits":
            if weight_bits is None:
                raise ValueError("weights='bits' needs weight_bits (an int in [2, 16])")
            self.weight_bits = integer(weight_bits, "weight_bits", minimum=2, maximum=MAX_WEIGHT_BITS)
        elif weight_bits is not None:
            raise ValueError(f"weight_bits only applies to weights='bits', got weights={self.weights!r}")
        else:
            self.weight_bits = None
        self.rho = _rho(rho)
        self.quantize_layers = _layers(quantize_layers, len(mlp.shapes))
        super().__init__(mlp, X, Y)

    def __repr__(self) -> str:
        bits = f", weight_bits={self.weight_bits}" if self.weight_bits else ""
        return (f"QuantizedNetworkProblem({self.mlp!r}, n={self.n}, weights={self.weights!r}{bits}, rho={self.rho:g}, "
                f"quantize_layers={np.flatnonzero(self.quantize_layers).tolist()})")

    def _data(self):
        return {
            **super()._data(),
            "weight_quant": WEIGHT_QUANTIZERS[self.weights],
            "weight_bits": int(self.weight_bits or 0),
            "rho": self.rho,
            "quant_layers": self.quantize_layers,
        }

    # --- the quantizer ----------------------------------------------------------------------------------------------
    def quantize(self, params) -> np.ndarray:
        """Q(params) for params (P,) or (R, P): the quantized layers' weights quantized, the rest copied."""
        p, single = self.mlp._params(params)
        q = _core.quantize_params(self._data(), p)
        return q[0] if single else q

    def weight_mask(self) -> np.ndarray:
        """(P,) bool: the entries that are quantized (the weight matrices of the quantized layers)."""
        mask = np.zeros(self.mlp.n_params, dtype=bool)
        off = 0
        for layer, (o, i) in enumerate(self.mlp.shapes):
            if self.quantize_layers[layer]:
                mask[off : off + o * i] = True
            off += o * i + (o if self.mlp.bias else 0)
        return mask

    def sign_flips(self, iterates) -> np.ndarray:
        """Sign flips of the quantized weights between consecutive record points of ``iterates`` (R, T, P):
        (R, T - 1) counts of entries whose sign(w) (so the sign of Q(w)) differs from the previous point's."""
        it = float_array(iterates, "iterates", np.float64, ndim=3)
        if it.shape[-1] != self.mlp.n_params:
            raise ValueError(f"iterates must have {self.mlp.n_params} entries per point, got shape {it.shape}")
        s = np.sign(it[..., self.weight_mask()])
        return np.sum(s[:, 1:] != s[:, :-1], axis=-1)

    # --- evaluation at Q(x) ----------------------------------------------------------------------------------------
    def objective(self, x):
        """F(Q(x)): the quantized network's loss at parameters (P,) or (R, P)."""
        return super().objective(self.quantize(x))

    def gradient(self, x):
        """The (coarse) gradient of F at Q(x): the direction the engine's step uses."""
        return super().gradient(self.quantize(x))

    def component_gradient(self, i, x):
        """The (coarse) gradient of f_i at Q(x)."""
        return super().component_gradient(i, self.quantize(x))

    def accuracy(self, x, X=None, Y=None):
        """The quantized network's accuracy at Q(x) on (X, Y) (default: the training data)."""
        if X is None:
            X, Y = self._data()["X"], self._labels()
        return self.mlp.accuracy(self.quantize(x), X, Y)

    def loss(self, x, X=None, Y=None):
        """The quantized network's loss at Q(x) on (X, Y) (default: the training data)."""
        if X is None:
            X, Y = self._data()["X"], self._labels()
        return self.mlp.loss_value(self.quantize(x), X, Y)
