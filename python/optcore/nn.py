"""Fully connected networks: evaluation, derivatives and training through the engine.

An :class:`MLP` describes the architecture (widths, activation, biases, loss); its parameters are plain NumPy
arrays, one flat vector per network, that users read and write (see :meth:`MLP.unpack` / :meth:`MLP.pack`).
Every evaluation takes R networks at once, shape (R, P): losses, gradients, per-example gradients, exact
Hessian-vector products (Pearlmutter's R-operator) and dense Hessians, in float32 or float64. With CuPy arrays
(or ``backend="cuda"``) they run on the GPU and return CuPy arrays (docs/cuda.md).
:class:`NetworkProblem` makes a network and its data a finite-sum problem of :func:`optcore.run_sgd`, so the same
orders, batches, schedules and recording train it (full-batch GD: ``batch_size=n``).

Conventions
-----------
* Parameter layout: for each layer, W (d_out x d_in, row-major) then b (d_out) if ``bias``.
* Activations: ``relu``, ``leaky``, ``linear``, ``hardtanh``, ``tanh``, ``sigmoid``, ``softplus``; hidden layers
  only, the output layer is linear. ``leaky`` has slope s+ right of 0 and s- left of it: h(x) = s+ x for x > 0
  and s- x for x <= 0, that is s+ max(x, 0) + s- min(x, 0), for any finite s+, s- (negative ones included:
  (1, -1) is |x|; PyTorch's LeakyReLU(negative_slope) is (1, negative_slope)). For s+, s- >= 0 this equals the
  max(s+ x, 0) + min(s- x, 0) of THEORY.md 1.1, which becomes ReLU-like instead for a negative slope. At kinks
  the derivative is the left one: relu'(0) = 0 (as PyTorch), leaky'(0) = s-, hardtanh'(+-1) = 0; second
  derivatives of the piecewise-linear activations are 0.
* Quantized activation (``activation="quantized"``, RELATED.md 3.2): ``act_bits`` = b bits, L = 2^b - 1 levels
  of resolution ``act_alpha`` = a: sigma(x) = 0 for x <= 0 and a min(ceil(x / a), L) for x > 0 (b = 1: the
  binary a 1{x > 0}). Its derivative is 0 almost everywhere, so gradients are *coarse gradients*: the backward
  pass multiplies by the derivative of a proxy (straight-through estimator ``ste``): ``clipped_relu``
  1{0 < x <= L a} (the default, the paper code's), ``relu`` 1{x > 0} or ``identity`` 1. Hessians are refused
  (piecewise constant). Quantized weights: :class:`optcore.quantized.QuantizedNetworkProblem`. The gradient in
  the resolution, one per hidden layer, is :meth:`MLP.alpha_gradient` (sigma is piecewise constant in x but not
  in a: its derivative in a is a count of steps; ``alpha_grad`` chooses the rule, see there).
* Losses: ``squared`` 1/2 |f - y|^2 (targets (n, d_out)); ``logistic`` log(1 + e^{-y f}) and ``exponential``
  e^{-y f} (one output, labels +-1); ``softmax_ce`` (class indices 0..d_out-1).
* Reduction: ``mean`` (F = average loss) or ``sum`` (F = total loss). As a finite sum, f_i = loss_i (mean) or
  n loss_i (sum), so that F = (1/n) sum_i f_i either way and SGD steps are unbiased for F.
* Structured networks (``masks=``, ``ties=``): a 0/1 mask per layer fixes the connectivity (masked weights are 0
  forever) and tie labels make entries of one layer share one value (weight sharing). Parameters keep the flat
  layout above; the network is the function of its ``n_free_params`` free parameters, so gradients, per-example
  gradients, Hessian-vector products and SGD steps are those of the free parameters written back into the layout:
  a free entry receives the sum of the raw gradient over its tied group, a masked entry 0 (and the HVP is
  P H P v with that projection P). Parameters given to a structured network must have zero masked entries and
  equal tied entries (``MLP.init`` and ``MLP.project`` make such vectors); anything else raises ``ValueError``.
* Wide layers: a network with any width above 64 computes batches (gradients, objective, accuracy, outputs) as
  matrix products through the OpenBLAS of the ``scipy-openblas32`` wheel, single-threaded, or through a portable
  C++ loop where it cannot be loaded (``OPTCORE_BLAS=none`` forces the loop). Results stay deterministic and
  independent of the thread count and of the other runs of a call; their last bits depend on which of the two ran
  (and on the CPU kernel OpenBLAS picks). Networks with all widths <= 64 do not use it.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _backend, _call_cache, _core, _environment, _structure
from ._memory import check_fits
from ._threads import MAX_THREADS, resolve_threads
from ._validation import as_dtype, choice, float_array, integer, positive_float
from .problems import Problem
from .reference import Stream

ACTIVATIONS = {"relu": 0, "leaky": 1, "linear": 2, "hardtanh": 3, "tanh": 4, "sigmoid": 5, "softplus": 6,
               "quantized": 7}
#: straight-through estimators of the quantized activation: the proxy whose derivative the backward pass uses
STES = {"clipped_relu": 0, "relu": 1, "identity": 2}
MAX_ACT_BITS = 24  # 2^bits - 1 levels stay exact integers in float32
#: rules for d sigma / d alpha of the quantized activation (learned resolutions, optcore.quantized; RELATED.md 3.2)
ALPHA_GRADS = {"ae": 0, "pact": 1, "mean": 2}
#: the range learned resolutions are kept in (the paper code's clamp)
ALPHA_RANGE = (1e-3, 5.0)
LOSSES = {"squared": 0, "logistic": 1, "exponential": 2, "softmax_ce": 3}
_isa_requested = _environment.reader("OPTCORE_ISA", "auto")  # os.environ.get("OPTCORE_ISA", "auto"), on every call
_SIZED = ("per_example", "hessian", "forward")  # evaluations whose outputs grow with n or P^2 (_check_output_size)
PURPOSE_INIT = 4  # the Philox stream purpose of initializations (docs/randomness.md)

_METHOD_OF = {  # the public method behind each evaluation, for messages
    "forward": "forward",
    "loss": "loss_value",
    "grad": "loss_and_grad",
    "accuracy": "accuracy",
    "per_example": "per_example_grads",
    "hvp": "hvp",
    "hessian": "hessian",
    "alpha_grad": "alpha_gradient",
}


class NonFiniteWarning(RuntimeWarning):
    """A network evaluation gave inf or NaN (an overflow: the parameters or inputs are too large for the dtype)."""


class MLP:
    """A fully connected network architecture.

    Parameters
    ----------
    widths : sequence of int
        (d_in, hidden widths..., d_out); at least two entries.
    activation : str
        One of ``ACTIVATIONS``.
    slopes : (float, float)
        (s+, s-) of the ``leaky`` activation: its slopes for x > 0 and for x <= 0 (any finite numbers; see the
        module docstring).
    bias : bool
        Whether layers have biases.
    loss : str
        One of ``LOSSES``.
    reduction : {"mean", "sum"}
    dtype : float32 or float64
    act_bits : int, optional
        ``activation="quantized"`` only: bits b >= 1 of the activation (default 1, binary).
    act_alpha : float, optional
        ``activation="quantized"`` only: its resolution alpha > 0 (default 1.0).
    ste : str, optional
        ``activation="quantized"`` only: the straight-through estimator, one of ``STES`` (default
        ``"clipped_relu"``).
    masks : list of (array (d_out, d_in) of 0/1 or None), optional
        One entry per weight layer: which weights exist (1) and which are fixed at 0 (0). None: fully connected.
    ties : list of ((W labels, b labels) or None), optional
        One entry per weight layer: integer labels of W's shape (and of b's, or None); entries of a layer with the
        same label >= 0 share one parameter, -1 leaves an entry untied. Masked entries must have label -1.

    Attributes
    ----------
    n_params : int
        Entries of the flat parameter vector (the layout, masked entries included).
    n_free_params : int
        Independent trainable parameters: unmasked weights and biases, each tied group counted once.
    """

    def __init__(
        self,
        widths,
        *,
        activation: str = "relu",
        slopes=(1.0, 0.01),
        bias: bool = True,
        loss: str = "squared",
        reduction: str = "mean",
        dtype=np.float64,
        masks=None,
        ties=None,
        act_bits=None,
        act_alpha=None,
        ste=None,
    ):
        widths = np.asarray(widths)
        if widths.ndim != 1 or widths.size < 2 or widths.dtype.kind not in "iu":
            raise ValueError(f"widths must be a sequence of at least two integers, got {widths!r}")
        if np.any(widths < 1):
            raise ValueError(f"widths must all be >= 1, got {widths.tolist()}")
        self.widths = widths.astype(np.int64)
        self.activation = choice(activation, "activation", set(ACTIVATIONS))
        self.act_bits, self.act_alpha, self.ste = _quantized_activation(self.activation, act_bits, act_alpha, ste)
        s_pos, s_neg = (float(s) for s in slopes)
        if not (np.isfinite(s_pos) and np.isfinite(s_neg)):
            raise ValueError(f"slopes must be finite, got {slopes}")
        self.slopes = (s_pos, s_neg)
        if not isinstance(bias, bool | np.bool_):
            raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
        self.bias = bool(bias)
        self.loss = choice(loss, "loss", set(LOSSES))
        self.reduction = choice(reduction, "reduction", {"mean", "sum"})
        self.dtype = as_dtype(dtype)
        if self.loss in ("logistic", "exponential") and self.widths[-1] != 1:
            raise ValueError(f"loss {self.loss!r} needs one output, got d_out = {self.widths[-1]}")
        self.shapes = [(int(o), int(i)) for i, o in zip(self.widths[:-1], self.widths[1:], strict=True)]
        self.n_params = sum(o * i + (o if self.bias else 0) for o, i in self.shapes)
        self.masks = _structure.check_masks(masks, self.shapes)
        self.ties = _structure.check_ties(ties, self.shapes, self.masks, self.bias)
        self.structured = any(m is not None for m in self.masks) or any(t is not None for t in self.ties)
        self._group, self.n_free_params = None, self.n_params
        if self.structured:
            self._group, self.n_free_params = _structure.param_groups(self.shapes, self.bias, self.masks, self.ties)

    def __repr__(self) -> str:
        free = f", free={self.n_free_params}" if self.structured else ""
        quant = (f", act_bits={self.act_bits}, act_alpha={self.act_alpha:g}, ste={self.ste!r}"
                 if self.activation == "quantized" else "")
        return (
            f"MLP(widths={self.widths.tolist()}, activation={self.activation!r}{quant}, bias={self.bias}, "
            f"loss={self.loss!r}, P={self.n_params}{free})"
        )

    def project(self, params) -> np.ndarray:
        """Structured networks: ``params`` (P,) or (R, P) with masked entries set to 0 and tied groups averaged."""
        p = float_array(params, "params", self.dtype, ndim=(1, 2))
        if p.shape[-1] != self.n_params:
            raise ValueError(f"params must have {self.n_params} entries per network, got shape {p.shape}")
        return p.copy() if not self.structured else _structure.project(p, self._group, self.n_free_params)

    # --- parameters ------------------------------------------------------------------------------------------------
    def unpack(self, params) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """(W, b) per layer, as views into one flat parameter vector (P,) (b is None without biases)."""
        params = np.asarray(params)
        if params.shape != (self.n_params,):
            raise ValueError(f"params must have shape ({self.n_params},), got {params.shape}")
        out, off = [], 0
        for o, i in self.shapes:
            W = params[off : off + o * i].reshape(o, i)
            off += o * i
            b = None
            if self.bias:
                b = params[off : off + o]
                off += o
            out.append((W, b))
        return out

    def pack(self, layers) -> np.ndarray:
        """The flat parameter vector of a list of (W, b) (b ignored, may be None, without biases)."""
        if len(layers) != len(self.shapes):
            raise ValueError(f"expected {len(self.shapes)} layers, got {len(layers)}")
        parts = []
        for (o, i), (W, b) in zip(self.shapes, layers, strict=True):
            parts.append(float_array(W, "W", self.dtype, shape=(o, i)).ravel())
            if self.bias:
                parts.append(float_array(b, "b", self.dtype, shape=(o,)))
        return np.concatenate(parts)

    def init(self, runs: int = 1, *, scheme: str = "he", scale: float = 1.0, seed: int = 0) -> np.ndarray:
        """Initial parameters of ``runs`` networks, shape (runs, P).

        Weights are N(0, s^2) with s = scale * sqrt(2/d_in) (he), scale * sqrt(1/d_in) (xavier-style, fan-in) or
        scale (gaussian); biases are 0. In a structured network d_in is each unit's number of unmasked inputs, masked
        entries are 0, and every entry of a tied group takes the value drawn for the group's first entry.

        The normals come from the counter-based Philox streams (seed, run, layer, 0, purpose 4) by Box-Muller,
        so network r's initialization depends only on (seed, r).
        """
        runs = integer(runs, "runs", minimum=1)
        scheme = choice(scheme, "scheme", {"he", "xavier", "gaussian"})
        scale = positive_float(scale, "scale")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) < 2**64:
            raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
        out = np.zeros((runs, self.n_params), dtype=self.dtype)
        for r in range(runs):
            layers = []
            for layer, (o, i) in enumerate(self.shapes):
                fan_in = i if self.masks[layer] is None else self.masks[layer].sum(axis=1, keepdims=True)
                std = {"he": scale * np.sqrt(2.0 / fan_in), "xavier": scale * np.sqrt(1.0 / fan_in)}.get(scheme, scale)
                W = std * _philox_normals(int(seed), r, layer, o * i).reshape(o, i)
                layers.append((W, np.zeros(o)))
            out[r] = self.pack(layers)
        if self.structured:  # masked entries to 0; tied entries take their group's first value
            free = self._group >= 0
            _, first_in_free = np.unique(self._group[free], return_index=True)
            first = np.flatnonzero(free)[first_in_free]
            out[:, free] = out[:, first[self._group[free]]]
            out[:, ~free] = 0
        return out

    # --- evaluation --------------------------------------------------------------------------------------------
    def _data(self, X, Y) -> dict:
        n = None
        X = float_array(X, "X", self.dtype, ndim=2)
        n = X.shape[0]
        if X.shape[1] != self.widths[0]:
            raise ValueError(f"X must have {self.widths[0]} columns (the input width), got shape {X.shape}")
        if n < 1:
            raise ValueError("X needs at least one example")
        if self.loss == "squared":
            Y = float_array(Y, "Y", self.dtype)
            if Y.ndim == 1 and self.widths[-1] == 1:
                Y = Y[:, None]
            if Y.shape != (n, self.widths[-1]):
                raise ValueError(f"Y must have shape ({n}, {self.widths[-1]}), got {Y.shape}")
        else:
            Y = float_array(Y, "Y", self.dtype, shape=(n,))
            if self.loss == "softmax_ce":
                if np.any(Y != np.round(Y)) or Y.min() < 0 or Y.max() >= self.widths[-1]:
                    raise ValueError(f"Y must hold class indices in 0..{self.widths[-1] - 1}")
            elif not np.all(np.abs(Y) == 1):
                raise ValueError("Y must hold labels in {-1, +1}")
            Y = Y[:, None]
        return {
            "X": np.ascontiguousarray(X),
            "Y": np.ascontiguousarray(Y),
            **self._net_data(),
            "scale": float(n if self.reduction == "sum" else 1),
            **self._activation_data(),
        }

    def _net_data(self) -> dict:
        """The network's entries of the data dict: its shape, activation and loss (no data, no reduction scale)."""
        return {
            "widths": self.widths,
            "bias": self.bias,
            "activation": ACTIVATIONS[self.activation],
            "loss": LOSSES[self.loss],
            "s_pos": self.slopes[0],
            "s_neg": self.slopes[1],
            "param_group": self._group,
            "groups": int(self.n_free_params),
        }

    def _activation_data(self) -> dict:
        """The quantized activation's entries of the data dict (none for the other activations)."""
        if self.activation != "quantized":
            return {}
        return {"act_alpha": self.act_alpha, "act_levels": float(2**self.act_bits - 1), "act_ste": STES[self.ste]}

    def _params(self, params):
        p = float_array(params, "params", self.dtype, ndim=(1, 2))
        single = p.ndim == 1
        p = np.ascontiguousarray(p.reshape(1, -1) if single else p)
        if p.shape[1] != self.n_params:
            raise ValueError(f"params must have {self.n_params} entries per network, got shape {p.shape}")
        self._check_structured(p, "params")
        return p, single

    def _check_structured(self, params, name: str) -> None:
        """Structured networks: raise unless masked entries are 0 and tied entries equal."""
        if self.structured:
            _structure.check_structured(params, self._group, self.n_free_params, name)

    def _eval(self, params, X, Y, what, v=None, threads=None, backend=None):
        if (backend is None or backend == "cpu") and not _backend.cupy_imported():
            fast = self._eval_prepared(params, X, Y, what, v, threads)
            if fast is not None:  # else the general path below, which raises or warns as it always did
                status, out, single = fast
                if status == 2:
                    _warn_non_finite(what, out)
                return {k: (a[0] if single else a) for k, a in out.items()}
        backend = _backend.choose_backend(backend, {"params": params, "X": X, "Y": Y, "v": v})
        if backend == "cuda" and self.structured:
            raise ValueError("masked or tied networks (masks=, ties=) run on the CPU only; use backend='cpu'")
        if backend == "cuda" and self.activation == "quantized":
            raise ValueError("networks with activation='quantized' run on the CPU only; use backend='cpu'")
        if what in ("hvp", "hessian") and self.activation == "quantized":
            raise ValueError(f"MLP.{_METHOD_OF[what]}: activation='quantized' is piecewise constant (its Hessian is 0 "
                             "almost everywhere and its gradients are coarse); use loss_and_grad for coarse gradients")
        if backend == "cuda":  # validated on the host with the CPU checks, then computed on the device
            params_d = params
            params, X, Y, v = (_backend.host_copy(a) for a in (params, X, Y, v))
        p, single = self._params(params)
        data = self._data(
            X,
            Y if Y is not None else self._placeholder_targets(len(X)),
        )
        if v is not None:
            v = float_array(v, "v", self.dtype, ndim=(1, 2))
            if v.shape[-1] != self.n_params or (v.ndim == 2 and v.shape[0] != p.shape[0]):
                runs = "" if single else f" or ({p.shape[0]}, {self.n_params}), one per network"
                raise ValueError(f"v must have shape ({self.n_params},) (one entry per parameter){runs}, got {v.shape}")
            v = np.ascontiguousarray(np.broadcast_to(v, p.shape))
        self._check_output_size(what, p.shape[0], data["X"].shape[0])
        if backend == "cuda":
            from .cuda import nn as cuda_nn

            cp = _backend.cupy()
            p_d = params_d if _backend.is_cupy_array(params_d) and params_d.dtype == self.dtype else cp.asarray(p)
            p_d = cp.ascontiguousarray(p_d.reshape(p.shape))
            out = cuda_nn.mlp_eval(data, p_d, what, None if v is None else cp.asarray(v))
            _warn_non_finite(what, out)
            return {k: (a[0] if single else a) for k, a in out.items()}
        # the same instruction-set copy as run_sgd: "auto" (the best this CPU runs), or forced by OPTCORE_ISA
        isa = _isa_requested()
        out = _core.mlp_eval(data, p, what, v, resolve_threads(threads, p.shape[0]), isa)
        _warn_non_finite(what, out)
        return {k: (a[0] if single else a) for k, a in out.items()}

    def _eval_prepared(self, params, X, Y, what, v, threads):
        """_eval's usual call -- NumPy params, X, Y (and v) already in the network's dtype and layout, an
        unstructured network, on the CPU -- with the checks of params, X, Y and v (finite, valid targets) and of the
        outputs (finite) done by the core, one pass each. Returns (status, outputs, single), status as
        ``_core.mlp_eval_checked`` gives it (0, or 2: some output is not finite), or None where the general path
        must run: other inputs, a check that fails (the general path raises its error), a bad ``threads``.
        """
        dt = self.dtype
        if (type(params) is not np.ndarray or type(X) is not np.ndarray or params.dtype is not dt
                or X.dtype is not dt or not params.flags.c_contiguous or not X.flags.c_contiguous or X.ndim != 2
                or (v is None) == (what == "hvp")):
            return None
        cache = self.__dict__.get(_call_cache.ATTRIBUTE)
        fixed = None if cache is None else cache.get(self, "eval")
        if fixed is None and (fixed := self._fixed_data()) is None:
            return None
        data, d_in, k, P, squared = fixed
        n = X.shape[0]
        single = params.ndim == 1
        if n < 1 or X.shape[1] != d_in or (params.shape[0] != P if single else (params.ndim != 2 or
                                                                               params.shape[1] != P)):
            return None
        if Y is None:  # forward: targets that any loss accepts, as _placeholder_targets gives them
            Y = np.zeros((n, k), dtype=dt) if squared else (np.ones if self.loss in ("logistic", "exponential")
                                                             else np.zeros)((n, 1), dtype=dt)
        elif type(Y) is not np.ndarray or Y.dtype is not dt or not Y.flags.c_contiguous:
            return None
        elif squared:
            if Y.ndim == 1 and k == 1:
                Y = Y[:, None]
            if Y.shape != (n, k):
                return None
        elif Y.shape != (n,):
            return None
        else:
            Y = Y[:, None]
        p = params.reshape(1, -1) if single else params
        R = p.shape[0]
        if v is not None:  # hvp: one direction per network, or one for all (broadcast, as the general path does)
            if type(v) is not np.ndarray or v.dtype is not dt or not v.flags.c_contiguous:
                return None
            if v.shape == (P,):
                v = v.reshape(1, -1) if R == 1 else np.ascontiguousarray(np.broadcast_to(v, (R, P)))
            elif v.shape != (R, P):
                return None
        if type(threads) is int and 1 <= threads <= MAX_THREADS:
            threads = max(1, min(threads, R))  # resolve_threads(threads, R) without its calls
        else:
            try:  # the general path checks these after the inputs: let it raise them in that order
                threads = resolve_threads(threads, R)
            except (TypeError, ValueError):
                return None
        if what in _SIZED:
            try:
                self._check_output_size(what, R, n)
            except ValueError:
                return None
        try:  # a refusal of the core (a bad OPTCORE_ISA) comes after the general path's own checks too
            status, out = _core.mlp_eval_checked(
                {**data, "X": X, "Y": Y, "scale": float(n if self.reduction == "sum" else 1)}, p, what, v, threads,
                _isa_requested(),
            )
        except (TypeError, ValueError):
            return None
        return None if status == 1 else (status, out, single)

    def _fixed_data(self):
        """The entries of :meth:`_data` that depend only on the network, and (d_in, d_out, P, squared loss), made
        and kept in the network's cache (optcore._call_cache: valid while its attributes stay the same objects);
        None for structured and quantized networks, which take the general path."""
        if self.structured or self.activation == "quantized":
            return None
        cache = _call_cache.cache_of(self)
        if cache is None:
            return None
        data = self._net_data()
        fixed = (data, int(self.widths[0]), int(self.widths[-1]), self.n_params, self.loss == "squared")
        cache.put(self, "eval", fixed)
        return fixed

    def _check_output_size(self, what: str, R: int, n: int) -> None:
        """Refuse, naming the arguments, outputs too large for memory (per-example gradients, dense Hessians)."""
        if what not in _SIZED:
            return
        P, itemsize = self.n_params, self.dtype.itemsize
        sizes = {"per_example": (R * n * P, "R networks x n examples x P parameters"),
                 "hessian": (R * P * P, "R networks x P x P"),
                 "forward": (R * n * int(self.widths[-1]), "R networks x n examples x outputs")}
        if what in sizes:
            count, shape = sizes[what]
            check_fits(count * itemsize, f"MLP.{_METHOD_OF[what]} with R = {R} params rows, n = {n} rows of X and "
                       f"P = {P} ({shape} values)", "pass fewer rows of params or X")

    def _placeholder_targets(self, n: int) -> np.ndarray:
        """Valid targets for passes that ignore them (forward): zeros, labels +1 or class 0."""
        if self.loss == "squared":
            return np.zeros((n, self.widths[-1]))
        return np.ones(n) if self.loss in ("logistic", "exponential") else np.zeros(n)

    # Every evaluation below takes ``threads`` (int, optional): threads for the R networks, at most
    # optcore._threads.MAX_THREADS; default optcore.default_threads() (OPTCORE_NUM_THREADS, else the usable CPUs).
    # Results do not depend on it. A result with inf or NaN (an overflow) comes with a NonFiniteWarning naming the
    # networks; Ctrl-C stops a long evaluation within a fraction of a second (KeyboardInterrupt).
    def forward(self, params, X, *, alpha=None, threads=None, backend=None) -> np.ndarray:
        """Network outputs, (n, d_out) or (R, n, d_out). ``threads``: see the note above these methods.
        ``alpha``: ``activation="quantized"`` only, per-hidden-layer resolutions as in :meth:`alpha_gradient`."""
        if alpha is not None:
            if backend not in (None, "cpu"):
                raise ValueError(f"per-layer resolutions (alpha=) run on the CPU only; use backend='cpu', got "
                                 f"backend={backend!r}")
            return self._alpha_pass(params, X, self._placeholder_targets(len(X)), alpha, "mean", grad=False)[3]
        return self._eval(params, X, None, "forward", threads=threads, backend=backend)["outputs"]

    def loss_value(self, params, X, Y, *, threads=None, backend=None):
        """F(params): the loss with the chosen reduction, () or (R,)."""
        return self._eval(params, X, Y, "loss", threads=threads, backend=backend)["loss"]

    def loss_and_grad(self, params, X, Y, *, threads=None, backend=None):
        """F and its gradient, () and (P,) or (R,) and (R, P)."""
        out = self._eval(params, X, Y, "grad", threads=threads, backend=backend)
        return out["loss"], out["grad"]

    def accuracy(self, params, X, Y, *, threads=None, backend=None):
        """Fraction of correctly classified examples (sign, or argmax)."""
        return self._eval(params, X, Y, "accuracy", threads=threads, backend=backend)["accuracy"]

    def alpha_gradient(self, params, X, Y, *, alpha=None, alpha_grad: str = "mean"):
        """The loss and its coarse gradient in the weights and in each hidden layer's resolution alpha_l.

        ``activation="quantized"`` only. Hidden layer l uses the resolution ``alpha[..., l - 1]``; the gradient in
        alpha_l is the sum over examples (averaged as the loss is) and units of (d loss / d a) (d sigma / d alpha)
        with the rule ``alpha_grad`` for d sigma / d alpha at a pre-activation x (L = 2^bits - 1): 0 for x <= 0 and
        L for x > L alpha under every rule; inside (0, L alpha] ``"ae"`` min(ceil(x / alpha), L) (exact almost
        everywhere: sigma = alpha times it), ``"pact"`` 0 (only the clipped part, as PACT) or ``"mean"`` (L + 1) / 2
        (the paper code's default). The weights' gradient is the coarse gradient at these resolutions (the STE
        ``ste``). This is the raw gradient: training (``QuantizedNetworkProblem(learn_alpha=True)``) scales it by
        ``rate_factor`` and clips it.

        Parameters
        ----------
        params : array (P,) or (R, P)
        X, Y : arrays
            Data, as for :meth:`loss_and_grad`.
        alpha : float or array (H,) or (R, H), optional
            Resolutions of the H hidden layers, each in [1e-3, 5] (the range training keeps them in); default the
            network's ``act_alpha`` in every layer.
        alpha_grad : {"ae", "pact", "mean"}

        Returns
        -------
        loss : () or (R,)
        grad : (P,) or (R, P)
            Coarse gradient in the parameters.
        grad_alpha : (H,) or (R, H)
            d F / d alpha_l under the rule.
        """
        loss, grad, grad_alpha, _ = self._alpha_pass(params, X, Y, alpha, alpha_grad, grad=True)
        return loss, grad, grad_alpha

    def _alpha_pass(self, params, X, Y, alpha, alpha_grad, *, grad):
        """(loss, grad, grad_alpha, outputs) at per-hidden-layer resolutions (grad: with the two gradients, else
        with the outputs)."""
        if self.activation != "quantized":
            raise ValueError(f"per-layer resolutions (alpha=) need activation='quantized', got "
                             f"activation={self.activation!r}")
        hidden = len(self.shapes) - 1
        if hidden < 1:
            raise ValueError("per-layer resolutions (alpha=) need a hidden layer (a network of widths "
                             "[d_in, ..., d_out] with at least three entries)")
        code = ALPHA_GRADS[choice(alpha_grad, "alpha_grad", set(ALPHA_GRADS))]
        p, single = self._params(params)
        R = p.shape[0]
        a = check_alphas(self.act_alpha if alpha is None else alpha, "alpha", self.dtype)
        if a.ndim == 2 and a.shape[0] != R or a.ndim >= 1 and a.shape[-1] != hidden:
            raise ValueError(f"alpha must be a float, ({hidden},) (one per hidden layer) or ({R}, {hidden}) "
                             f"(per network), got shape {a.shape}")
        a = np.broadcast_to(a, (R, hidden))
        data = {**self._data(X, Y), "learn_alpha": True, "alpha_grad": code, "rate_factor": 1.0}
        out = _core.alpha_eval(data, np.ascontiguousarray(np.concatenate([p, a], axis=1)), grad, not grad)
        _warn_non_finite("alpha_grad" if grad else "forward", out)
        P, pick = self.n_params, (lambda v: v[0] if single else v)
        if grad:
            return pick(out["loss"]), pick(out["grad"][:, :P]), pick(out["grad"][:, P:]), None
        return pick(out["loss"]), None, None, pick(out["outputs"])

    def per_example_grads(self, params, X, Y, *, threads=None, backend=None) -> np.ndarray:
        """Gradients of the components f_i, (n, P) or (R, n, P) (f_i = loss_i, or n loss_i with reduction sum)."""
        return self._eval(params, X, Y, "per_example", threads=threads, backend=backend)["grads"]

    def hvp(self, params, X, Y, v, *, threads=None, backend=None) -> np.ndarray:
        """Exact Hessian-vector product H(params) v of F, (P,) or (R, P); v is (P,) or, per network, (R, P)."""
        return self._eval(params, X, Y, "hvp", v=v, threads=threads, backend=backend)["hvp"]

    def hessian(self, params, X, Y, *, threads=None, backend=None) -> np.ndarray:
        """Dense Hessian of F (P HVPs), (P, P) or (R, P, P); for small networks."""
        if self.n_params > 4000:
            raise ValueError(f"a dense Hessian of {self.n_params} parameters is too large; use hvp()")
        return self._eval(params, X, Y, "hessian", threads=threads, backend=backend)["hessian"]


def _quantized_activation(activation: str, act_bits, act_alpha, ste):
    """(bits, alpha, ste) of a quantized activation, checked; (None, None, None) for the other activations."""
    if activation != "quantized":
        given = [name for name, v in (("act_bits", act_bits), ("act_alpha", act_alpha), ("ste", ste)) if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)} only apply to activation='quantized', got activation={activation!r}")
        return None, None, None
    bits = integer(1 if act_bits is None else act_bits, "act_bits", minimum=1, maximum=MAX_ACT_BITS)
    alpha = positive_float(1.0 if act_alpha is None else act_alpha, "act_alpha")
    ste = choice("clipped_relu" if ste is None else ste, "ste", set(STES))
    return bits, alpha, ste


def check_alphas(value, name: str, dtype) -> np.ndarray:
    """Resolutions as an array of ``dtype``, each in ALPHA_RANGE (the range learned ones are kept in), else
    ValueError naming ``name``."""
    a = float_array(value, name, dtype, ndim=(0, 1, 2))
    lo, hi = ALPHA_RANGE
    if not np.all((a >= lo) & (a <= hi)):  # NaN fails too
        raise ValueError(f"{name} must hold resolutions in [{lo:g}, {hi:g}] (the range learned resolutions are kept "
                         f"in), got {np.asarray(value).tolist()}")
    return a


def _warn_non_finite(what: str, out: dict) -> None:
    """A NonFiniteWarning naming the method and the networks when an evaluation's numbers are not all finite."""
    arrays = {k: _backend.host_copy(a) for k, a in out.items() if k != "accuracy"}
    bad = set()
    for a in arrays.values():
        if a.size and not np.isfinite(a).all():
            bad.update(np.flatnonzero(~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)).tolist())
    if bad:
        shown = sorted(bad)
        listed = ", ".join(map(str, shown[:10])) + (", ..." if len(shown) > 10 else "")
        warnings.warn(
            f"MLP.{_METHOD_OF[what]}: the result is not finite (inf or NaN) for {len(shown)} of "
            f"{next(iter(arrays.values())).shape[0]} networks (rows {listed}): an overflow, the parameters or the "
            "inputs are too large for the dtype",
            NonFiniteWarning,
            stacklevel=4,
        )


def _philox_normals(seed: int, run: int, layer: int, count: int) -> np.ndarray:
    """Count standard normals from stream (seed, run, layer, 0, PURPOSE_INIT): Box-Muller on pairs of words."""
    words = Stream(seed, run, layer, 0, PURPOSE_INIT).words(2 * count).astype(np.float64)
    u1 = (words[0::2] + 1.0) / 2.0**32  # in (0, 1]: log is finite
    u2 = words[1::2] / 2.0**32
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


class NetworkProblem(Problem):
    """A network and its data as a finite-sum problem of :func:`optcore.run_sgd`.

    The iterate is the flat parameter vector and there is one component per example; ``record="auto"`` records
    the objective and the accuracy.
    """

    kind = "mlp"

    def __init__(self, mlp: MLP, X, Y):
        if not isinstance(mlp, MLP):
            raise TypeError(f"mlp must be an optcore.nn.MLP, got {type(mlp).__name__}")
        self.mlp = mlp
        data = mlp._data(X, Y)
        super().__init__(data["X"].shape[0], mlp.n_params, mlp.dtype)
        self.__data = data

    def _data(self):
        return self.__data

    def _check_start(self, x) -> None:
        """The engine's starting points must be structured parameters (zero masked, equal tied entries)."""
        self.mlp._check_structured(x, "x0")

    def objective(self, x):
        """F at parameters (P,) or (R, P)."""
        return self.mlp.loss_value(x, self.__data["X"], self._labels())

    def gradient(self, x):
        """Gradient of F."""
        return self.mlp.loss_and_grad(x, self.__data["X"], self._labels())[1]

    def component_gradient(self, i, x):
        """Gradient of f_i."""
        return self.mlp.per_example_grads(x, self.__data["X"], self._labels())[i]

    def _labels(self):
        Y = self.__data["Y"]
        return Y if self.mlp.loss == "squared" else Y[:, 0]
