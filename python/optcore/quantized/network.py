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

rho may grow per epoch as in the paper code: epoch k blends with rho_k, rho_0 = ``rho``,
rho_k = min(``rho_rate`` rho_{k-1}, ``rho_max``) (the code's cap is 0.01; ``rho_rate=1``, the default, keeps rho
constant). :meth:`QuantizedNetworkProblem.rho_schedule` lists the values.

Learned activation resolutions (``learn_alpha=True``, RELATED.md 3.2; nets/quant_uni_type.py of the paper code):
one alpha per hidden layer is trained with the weights. The iterate is then (w, alpha_1, ..., alpha_H), the H
resolutions after the network's P parameters (:meth:`~QuantizedNetworkProblem.init` builds it,
:meth:`~QuantizedNetworkProblem.alphas` reads them back, per network, from ``result.x`` or ``result.iterates``).
Each step takes the batch gradient g_alpha of the alphas (the rule ``alpha_grad`` for d sigma / d alpha, see
:meth:`optcore.nn.MLP.alpha_gradient`) and updates, with the batch mean's gradient g_alpha / b,

    alpha <- clamp(alpha - eta clip(rate_factor g_alpha / b, -1, 1), 1e-3, 5)

Differences from the paper's training: plain SGD steps (no momentum, no weight decay, on the weights and on the
alphas alike).
"""

from __future__ import annotations

import numpy as np

from .. import _core
from .._validation import boolean, choice, float_array, integer, positive_float
from ..nn import ALPHA_GRADS, MLP, NetworkProblem, check_alphas

WEIGHT_QUANTIZERS = {"binary": 1, "ternary": 2, "bits": 3, "sign": 4}
MAX_WEIGHT_BITS = 16
#: the paper code's initial resolutions of b-bit activations (nets/quant_uni_type.py bit_alpha), the default start
#: of learned resolutions
DEFAULT_ALPHA = {1: 1.2221, 2: 0.6511, 4: 0.1946}


def _rho(value) -> float:
    """rho as a float in [0, 1], else TypeError / ValueError naming it."""
    rho = float(float_array(value, "rho", np.float64, ndim=0))
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"rho must be in [0, 1] (the blending weight of BCGD; 0 is BinaryConnect), got {value!r}")
    return rho


def _unit_interval(value, name: str, why: str) -> float:
    """A float in [0, 1], else TypeError / ValueError naming it."""
    x = float(float_array(value, name, np.float64, ndim=0))
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"{name} must be in [0, 1] ({why}), got {value!r}")
    return x


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
    rho_rate : float
        Per-epoch growth of rho, > 0 (1, the default: constant); rho_k = min(rho_rate rho_{k-1}, rho_max).
    rho_max : float
        Cap of the growing rho, in [rho, 1] (default 1; the paper code's is 0.01).
    learn_alpha : bool
        Train one activation resolution per hidden layer with the weights (needs ``activation="quantized"`` and
        a hidden layer); the iterate is then (P + H,), see the module docstring.
    alpha_grad : {"ae", "pact", "mean"}
        Learned resolutions: the rule for d sigma / d alpha (:meth:`optcore.nn.MLP.alpha_gradient`).
    rate_factor : float
        Learned resolutions: the factor of their gradient before the clip to [-1, 1], > 0 (default 0.01, the
        paper code's).

    Notes
    -----
    ``objective``, ``gradient`` and ``component_gradient`` are those of the quantized network: the loss at Q(x)
    and the (coarse) gradient at Q(x) (with learned resolutions: at the alphas of x, their raw gradient last).
    Masked or tied networks are refused.
    """

    def __init__(self, mlp: MLP, X, Y, *, weights: str = "binary", weight_bits=None, rho=0.0,
                 quantize_layers="all", rho_rate=1.0, rho_max=1.0, learn_alpha=False, alpha_grad="mean",
                 rate_factor=0.01):
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
        rate = float(float_array(rho_rate, "rho_rate", np.float64, ndim=0))
        if not (np.isfinite(rate) and rate > 0):
            raise ValueError(f"rho_rate must be finite and > 0 (rho's per-epoch growth factor), got {rho_rate!r}")
        self.rho_rate = rate
        self.rho_max = _unit_interval(rho_max, "rho_max", "the cap of the growing rho")
        if self.rho_max < self.rho:
            raise ValueError(f"rho_max must be >= rho (the cap of the growing rho), got rho_max={rho_max!r} and "
                             f"rho={rho!r}")
        self.quantize_layers = _layers(quantize_layers, len(mlp.shapes))
        self.learn_alpha = boolean(learn_alpha, "learn_alpha")
        self.alpha_grad = choice(alpha_grad, "alpha_grad", set(ALPHA_GRADS))
        self.rate_factor = positive_float(rate_factor, "rate_factor")
        self.n_alphas = 0
        if self.learn_alpha:
            if mlp.activation != "quantized":
                raise ValueError(f"learn_alpha=True trains the resolutions of a quantized activation; the network has "
                                 f"activation={mlp.activation!r}")
            self.n_alphas = len(mlp.shapes) - 1
            if self.n_alphas < 1:
                raise ValueError("learn_alpha=True needs a hidden layer (widths with at least three entries)")
        super().__init__(mlp, X, Y)
        self.dim = mlp.n_params + self.n_alphas  # the iterate: the parameters, then the learned resolutions

    def __repr__(self) -> str:
        bits = f", weight_bits={self.weight_bits}" if self.weight_bits else ""
        growth = f", rho_rate={self.rho_rate:g}, rho_max={self.rho_max:g}" if self.rho_rate != 1 else ""
        alpha = (f", learn_alpha=True, alpha_grad={self.alpha_grad!r}, rate_factor={self.rate_factor:g}"
                 if self.learn_alpha else "")
        return (f"QuantizedNetworkProblem({self.mlp!r}, n={self.n}, weights={self.weights!r}{bits}, rho={self.rho:g}"
                f"{growth}, quantize_layers={np.flatnonzero(self.quantize_layers).tolist()}{alpha})")

    def _weight_data(self, data=None) -> dict:
        """The network's data (default: the training data) and the weight quantizer, without learned resolutions."""
        return {
            **(super()._data() if data is None else data),
            "weight_quant": WEIGHT_QUANTIZERS[self.weights],
            "weight_bits": int(self.weight_bits or 0),
            "rho": self.rho,
            "rho_rate": self.rho_rate,
            "rho_max": self.rho_max,
            "quant_layers": self.quantize_layers,
        }

    def _data(self, data=None):
        out = self._weight_data(data)
        if self.learn_alpha:
            out.update(learn_alpha=True, alpha_grad=ALPHA_GRADS[self.alpha_grad], rate_factor=self.rate_factor)
        return out

    # --- rho's schedule and the learned resolutions ----------------------------------------------------------------
    def rho_schedule(self, epochs: int) -> np.ndarray:
        """(epochs,) the blending weight of each epoch: rho_0 = rho, rho_k = min(rho_rate rho_{k-1}, rho_max), in
        the network's dtype (the core's arithmetic)."""
        epochs = integer(epochs, "epochs", minimum=1)
        dt = self.dtype.type
        out = np.empty(epochs, dtype=self.dtype)
        r, rate, cap = dt(self.rho), dt(self.rho_rate), dt(self.rho_max)
        for k in range(epochs):
            out[k] = r
            if self.rho_rate != 1:
                r = min(rate * r, cap)
        return out

    def init(self, runs: int = 1, *, seed: int = 0, alpha=None, **kwargs) -> np.ndarray:
        """Starting iterates (runs, dim): ``mlp.init(runs, seed=seed, **kwargs)``, followed with learned
        resolutions by the H alphas ``alpha`` (a float, or (H,)); default the paper code's start for b-bit
        activations (``DEFAULT_ALPHA``: 1.2221, 0.6511, 0.1946 for b = 1, 2, 4), else the network's act_alpha."""
        params = self.mlp.init(runs, seed=seed, **kwargs)
        if not self.learn_alpha:
            if alpha is not None:
                raise ValueError("alpha only applies to learn_alpha=True")
            return params
        if alpha is None:
            alpha = DEFAULT_ALPHA.get(self.mlp.act_bits, self.mlp.act_alpha)
        a = check_alphas(alpha, "alpha", self.dtype)
        if a.ndim > 1 or (a.ndim == 1 and a.size != self.n_alphas):
            raise ValueError(f"alpha must be a float or ({self.n_alphas},) (one per hidden layer), got shape {a.shape}")
        return np.concatenate([params, np.broadcast_to(a, (params.shape[0], self.n_alphas))], axis=1)

    def alphas(self, x) -> np.ndarray:
        """The learned resolutions of iterates x (..., dim): x[..., P:], (..., H)."""
        if not self.learn_alpha:
            raise ValueError("this problem does not learn its resolutions (learn_alpha=False)")
        return np.asarray(x)[..., self.mlp.n_params :]

    def _check_start(self, x) -> None:
        super()._check_start(x[:, : self.mlp.n_params])
        if self.learn_alpha:
            check_alphas(x[:, self.mlp.n_params :], "x0's learned resolutions (its last H entries; see "
                         "QuantizedNetworkProblem.init)", self.dtype)

    # --- the quantizer ----------------------------------------------------------------------------------------------
    def quantize(self, params) -> np.ndarray:
        """Q(params) for params (P,) or (R, P): the quantized layers' weights quantized, the rest copied (with
        learned resolutions, iterates (dim,) or (R, dim) too: their alphas copied)."""
        P = self.mlp.n_params
        x = np.asarray(params)
        if self.learn_alpha and x.ndim in (1, 2) and x.shape[-1] == self.dim:
            out = np.array(x, dtype=self.dtype)
            out[..., :P] = self.quantize(x[..., :P])
            return out
        p, single = self.mlp._params(params)
        q = _core.quantize_params(self._weight_data(), p)
        return q[0] if single else q

    def weight_mask(self) -> np.ndarray:
        """(dim,) bool: the entries that are quantized (the weight matrices of the quantized layers)."""
        mask = np.zeros(self.dim, dtype=bool)
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
        if it.shape[-1] != self.dim:
            raise ValueError(f"iterates must have {self.dim} entries per point, got shape {it.shape}")
        s = np.sign(it[..., self.weight_mask()])
        return np.sum(s[:, 1:] != s[:, :-1], axis=-1)

    # --- evaluation at Q(x) ----------------------------------------------------------------------------------------
    def _alpha_eval(self, x, X=None, Y=None, grad=False) -> dict:
        """Learned resolutions: the core's passes at (Q(w), alpha) of iterates x (dim,) or (R, dim) on (X, Y)."""
        p = float_array(x, "x", self.dtype, ndim=(1, 2))
        if p.shape[-1] != self.dim:
            raise ValueError(f"x must have {self.dim} entries per network (parameters, then {self.n_alphas} "
                             f"resolutions), got shape {p.shape}")
        data = self._data(None if X is None else self.mlp._data(X, Y))
        out = _core.alpha_eval(data, np.ascontiguousarray(p.reshape(-1, self.dim)), grad)
        return {k: (v[0] if p.ndim == 1 else v) for k, v in out.items()}

    def objective(self, x):
        """F(Q(x)): the quantized network's loss at parameters (P,) or (R, P)."""
        if self.learn_alpha:
            return self._alpha_eval(x)["loss"]
        return super().objective(self.quantize(x))

    def gradient(self, x):
        """The (coarse) gradient of F at Q(x): the direction the engine's step uses (with learned resolutions,
        their raw gradient last)."""
        if self.learn_alpha:
            return self._alpha_eval(x, grad=True)["grad"]
        return super().gradient(self.quantize(x))

    def component_gradient(self, i, x):
        """The (coarse) gradient of f_i at Q(x)."""
        if self.learn_alpha:
            i = integer(i, "i", minimum=0, maximum=self.n - 1)
            X, Y = self._data()["X"], self._labels()
            factor = self.n if self.mlp.reduction == "sum" else 1  # f_i = n loss_i with the sum reduction
            return factor * self._alpha_eval(x, X[i : i + 1], Y[i : i + 1], grad=True)["grad"]
        return super().component_gradient(i, self.quantize(x))

    def accuracy(self, x, X=None, Y=None):
        """The quantized network's accuracy at Q(x) on (X, Y) (default: the training data)."""
        if X is None:
            X, Y = self._data()["X"], self._labels()
        if self.learn_alpha:
            return self._alpha_eval(x, X, Y)["accuracy"]
        return self.mlp.accuracy(self.quantize(x), X, Y)

    def loss(self, x, X=None, Y=None):
        """The quantized network's loss at Q(x) on (X, Y) (default: the training data)."""
        if X is None:
            X, Y = self._data()["X"], self._labels()
        if self.learn_alpha:
            return self._alpha_eval(x, X, Y)["loss"]
        return self.mlp.loss_value(self.quantize(x), X, Y)
