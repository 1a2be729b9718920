"""Linear tensor networks (THEORY.md 3.2): the network families, their parameters and end-to-end predictors.

Each network maps its parameters theta (one flat vector per run) to a linear predictor beta in R^d, f(x) = <x, beta>.
The C++ kernel (:func:`optcore.implicit_bias.run_gd`) trains them; the classes here describe the layout, draw
initializations of scale ``alpha`` and compute beta in NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import float_array, integer, positive_float


def _check_depth_dim(depth, dim):
    return integer(depth, "depth", minimum=1), integer(dim, "dim", minimum=1)


@dataclass(frozen=True)
class LinearTensorNet:
    """Base class: ``depth`` L and input dimension ``dim`` d; subclasses fix the layout."""

    depth: int
    dim: int

    kind = "abstract"

    @property
    def params(self) -> int:
        """Parameters per run."""
        raise NotImplementedError

    def _core(self) -> dict:
        return {"kind": self.kind, "depth": self.depth, "dim": self.dim, "width": 0, "rank": 0, "factor": 0}

    def predictor_dim(self) -> int:
        """Dimension of the predictor the kernel computes (the input dimension, or 2d for signed diagonal nets)."""
        return self.dim

    def reduce(self, beta: np.ndarray) -> np.ndarray:
        """Map the kernel's predictor (last axis) to the predictor on the original inputs."""
        return beta

    def transform_inputs(self, X: np.ndarray) -> np.ndarray:
        """The inputs the kernel sees (identity except for signed diagonal nets)."""
        return X

    def layers(self, theta: np.ndarray) -> list[np.ndarray]:
        """The layers of one run's flat parameters (views)."""
        raise NotImplementedError

    def block_slices(self) -> list[slice]:
        """Where each block of parameters (a layer; a factor vector of :class:`Reparametrized`) lies in theta.

        ``run_gd(..., block_step_scale=...)`` gives every block its own step size in this order.
        """
        out, off = [], 0
        for layer in self.layers(np.zeros(self.params)):
            out.append(slice(off, off + layer.size))
            off += layer.size
        return out

    def beta(self, theta) -> np.ndarray:
        """End-to-end predictor(s) on the original inputs, for theta of shape (P,) or (R, P)."""
        theta = np.asarray(theta, dtype=float)
        if theta.ndim == 2:
            return np.stack([self.beta(t) for t in theta])
        if theta.shape != (self.params,):
            raise ValueError(f"theta must have shape ({self.params},) or (runs, {self.params}), got {theta.shape}")
        return self.reduce(self._beta_kernel(theta))

    def _beta_kernel(self, theta: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def init(self, alpha, *, runs: int = 1, seed: int = 0) -> np.ndarray:
        """Initial parameters of scale ``alpha`` (a scalar or one value per run), shape (runs, params)."""
        runs = integer(runs, "runs", minimum=1)
        a = np.asarray(alpha, dtype=float)
        if a.ndim == 0:
            a = np.full(runs, float(a))
        if a.shape != (runs,):
            raise ValueError(f"alpha must be a scalar or have shape ({runs},), got shape {a.shape}")
        if not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError("alpha must be finite and > 0")
        return a[:, None] * self._unit_init(runs, seed)

    def _unit_init(self, runs: int, seed: int) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class FullyConnected(LinearTensorNet):
    """Fully connected linear net of depth L: beta = W_1 W_2 ... W_{L-1} w_L, hidden width ``width``.

    Layout of theta: W_1 (d x h), W_2 .. W_{L-1} (h x h), w_L (h,), each row-major. Depth 1 is the linear model.
    ``init`` draws i.i.d. N(0, 1/fan_in) entries (times alpha).
    """

    width: int = 0
    kind = "fully_connected"

    def __post_init__(self):
        depth, dim = _check_depth_dim(self.depth, self.dim)
        width = integer(self.width, "width", minimum=0)
        if depth > 1 and width < 1:
            raise ValueError(f"width must be >= 1 for depth > 1, got {width}")
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "dim", dim)
        object.__setattr__(self, "width", width if depth > 1 else 0)

    def shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the layers."""
        if self.depth == 1:
            return [(self.dim,)]
        h = self.width
        return [(self.dim, h)] + [(h, h)] * (self.depth - 2) + [(h,)]

    @property
    def params(self) -> int:
        return int(sum(np.prod(s) for s in self.shapes()))

    def _core(self) -> dict:
        return {**super()._core(), "width": self.width}

    def layers(self, theta):
        out, off = [], 0
        for s in self.shapes():
            size = int(np.prod(s))
            out.append(theta[off : off + size].reshape(s))
            off += size
        return out

    def _beta_kernel(self, theta):
        layers = self.layers(theta)
        b = layers[-1]
        for W in reversed(layers[:-1]):
            b = W @ b
        return b

    def _unit_init(self, runs, seed):
        rng = np.random.default_rng(seed)
        fan_in = [s[0] for s in self.shapes()]
        parts = [
            rng.standard_normal((runs, int(np.prod(s)))) / np.sqrt(f)
            for s, f in zip(self.shapes(), fan_in, strict=False)
        ]
        return np.concatenate(parts, axis=1)


@dataclass(frozen=True)
class Diagonal(LinearTensorNet):
    """Diagonal linear net of depth L: beta = v_1 * ... * v_L coordinatewise.

    With ``signed=True`` (default) the net is Woodworth et al.'s beta = w_+^L - w_-^L: the kernel trains a
    diagonal net on the inputs [x, -x] (dimension 2d) and beta is the difference of the two halves. ``init`` sets
    every layer to alpha * 1, the setting of THEORY.md 3.4.
    """

    signed: bool = True
    kind = "diagonal"

    def __post_init__(self):
        depth, dim = _check_depth_dim(self.depth, self.dim)
        if not isinstance(self.signed, bool):
            raise TypeError(f"signed must be a bool, got {type(self.signed).__name__}")
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "dim", dim)

    def predictor_dim(self):
        return 2 * self.dim if self.signed else self.dim

    @property
    def params(self) -> int:
        return self.depth * self.predictor_dim()

    def _core(self):
        return {**super()._core(), "dim": self.predictor_dim()}

    def transform_inputs(self, X):
        return np.concatenate([X, -X], axis=1) if self.signed else X

    def reduce(self, beta):
        if not self.signed:
            return beta
        return beta[..., : self.dim] - beta[..., self.dim :]

    def layers(self, theta):
        return list(theta.reshape(self.depth, self.predictor_dim()))

    def _beta_kernel(self, theta):
        return np.prod(theta.reshape(self.depth, self.predictor_dim()), axis=0)

    def _unit_init(self, runs, seed):
        return np.ones((runs, self.params))


@dataclass(frozen=True)
class Convolutional(LinearTensorNet):
    """Circular convolutional linear net with full-length filters: beta = w_1 (*) ... (*) w_L.

    (a (*) b)_i = sum_j a_j b_{(i-j) mod d}, so numpy.fft.fft(beta) = prod_l fft(w_l): the net is diagonal in the
    Fourier basis. ``init="random"`` draws i.i.d. N(0, 1/d) filters (times alpha); ``init="delta"`` sets every
    filter to alpha e_0, so all DFT coefficients of all layers start equal to alpha (balanced, equal moduli: the
    analogue of the diagonal net's alpha 1 start).
    """

    init_kind: str = "random"
    kind = "convolutional"

    def __post_init__(self):
        if self.init_kind not in ("random", "delta"):
            raise ValueError(f"init_kind must be 'random' or 'delta', got {self.init_kind!r}")
        depth, dim = _check_depth_dim(self.depth, self.dim)
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "dim", dim)

    @property
    def params(self) -> int:
        return self.depth * self.dim

    def layers(self, theta):
        return list(theta.reshape(self.depth, self.dim))

    def _beta_kernel(self, theta):
        spectrum = np.prod(np.fft.fft(theta.reshape(self.depth, self.dim), axis=1), axis=0)
        return np.fft.ifft(spectrum).real

    def _unit_init(self, runs, seed):
        if self.init_kind == "delta":
            theta = np.zeros((runs, self.params))
            theta[:, :: self.dim] = 1.0
            return theta
        return np.random.default_rng(seed).standard_normal((runs, self.params)) / np.sqrt(self.dim)


@dataclass(frozen=True, eq=False)
class Odeco(LinearTensorNet):
    """Orthogonally decomposable linear tensor net: f(x) = <S x, rho>, rho_j = prod_l [U_l^T v_l]_j.

    Parameters
    ----------
    S : (m, d) array
        The input transform.
    U : (L, k, m) array
        The factor matrices; each U_l should have orthonormal columns (checked to 1e-8).
    v_bar : (L, k) array, optional
        Direction of the initialization v_l(0) = alpha v_bar_l; default U_l 1 (so U_l^T v_l(0) = alpha 1).
    """

    S: np.ndarray = field(default=None, repr=False)
    U: np.ndarray = field(default=None, repr=False)
    v_bar: np.ndarray | None = field(default=None, repr=False)
    kind = "odeco"

    def __post_init__(self):
        if self.S is None or self.U is None:
            raise ValueError("Odeco needs S (m, d) and U (L, k, m)")
        S = float_array(self.S, "S", np.float64, ndim=2)
        U = float_array(self.U, "U", np.float64, ndim=3)
        m, d = S.shape
        if U.shape[2] != m:
            raise ValueError(f"U must have shape (L, k, {m}) to match S of shape {S.shape}, got {U.shape}")
        for l_idx, Ul in enumerate(U):
            if not np.allclose(Ul.T @ Ul, np.eye(m), atol=1e-8):
                raise ValueError(f"U[{l_idx}] must have orthonormal columns (U_l^T U_l = I)")
        L, k = U.shape[0], U.shape[1]
        v_bar = (
            np.einsum("lkm->lk", U)
            if self.v_bar is None
            else float_array(self.v_bar, "v_bar", np.float64, shape=(L, k))
        )
        object.__setattr__(self, "S", S)
        object.__setattr__(self, "U", U)
        object.__setattr__(self, "v_bar", v_bar)
        object.__setattr__(self, "depth", L)
        object.__setattr__(self, "dim", d)

    def __init__(self, S, U, *, v_bar=None):
        object.__setattr__(self, "S", S)
        object.__setattr__(self, "U", U)
        object.__setattr__(self, "v_bar", v_bar)
        object.__setattr__(self, "depth", 0)
        object.__setattr__(self, "dim", 0)
        self.__post_init__()

    @property
    def rank(self) -> int:
        """m, the number of rank-one terms."""
        return self.S.shape[0]

    @property
    def factor(self) -> int:
        """k, the length of each v_l."""
        return self.U.shape[1]

    @property
    def params(self) -> int:
        return self.depth * self.factor

    def _core(self):
        return {**super()._core(), "rank": self.rank, "factor": self.factor}

    def layers(self, theta):
        return list(theta.reshape(self.depth, self.factor))

    def rho(self, theta) -> np.ndarray:
        """The transformed-space predictor rho = prod_l U_l^T v_l of one run."""
        V = np.asarray(theta, dtype=float).reshape(self.depth, self.factor)
        return np.prod(np.einsum("lkm,lk->lm", self.U, V), axis=0)

    def _beta_kernel(self, theta):
        return self.S.T @ self.rho(theta)

    def _unit_init(self, runs, seed):
        return np.tile(self.v_bar.reshape(-1), (runs, 1))


@dataclass(frozen=True, eq=False)
class Reparametrized(LinearTensorNet):
    """A reparametrized linear model: beta = sum_t c_t prod_{f in term t} v_f^{p_f}, all operations coordinatewise.

    Every factor v_f is a block of d parameters (``theta`` holds v_1, .., v_F in order); a term is a coefficient and
    the powers of its factors. Woodworth et al.'s diagonal net w*w - u*u is ``terms=((1, (2,)), (-1, (2,)))``; the
    composite w*w - u*u + lambda v of RELATED.md 1.2 adds ``(lambda, (1,))``; a Hadamard product u*v is
    ``((1, (1, 1)),)``. Trained by :func:`~optcore.implicit_bias.run_gd` in the C++ core (float32 or float64),
    each block with its own step size through ``block_step_scale``.

    Parameters
    ----------
    dim : int
        d, the input dimension.
    terms : sequence of (coefficient, powers)
        ``coefficient`` a finite float, ``powers`` a non-empty sequence of integers in [1, 64], one per factor.
    init : sequence of float, optional
        Initialization direction per factor: ``init(alpha)`` sets v_f = alpha * init[f] * 1 (default all 1).
        A 0 starts that block at 0 (the linear block of the composite model).
    """

    terms: tuple = ()
    init_direction: tuple | None = None
    kind = "hadamard"

    def __init__(self, dim, terms, *, init=None):
        dim = integer(dim, "dim", minimum=1)
        if isinstance(terms, (str, bytes)) or not hasattr(terms, "__len__") or len(terms) == 0:
            raise ValueError("terms must be a non-empty sequence of (coefficient, powers) pairs")
        checked = []
        for t, term in enumerate(terms):
            if not hasattr(term, "__len__") or len(term) != 2:
                raise ValueError(f"terms[{t}] must be a (coefficient, powers) pair, got {term!r}")
            coef = float(float_array(term[0], f"terms[{t}] coefficient", np.float64, ndim=0))
            powers = np.atleast_1d(np.asarray(term[1]))
            if powers.ndim != 1 or powers.size == 0 or powers.dtype.kind not in "iu":
                raise ValueError(f"terms[{t}] powers must be a non-empty sequence of integers, got {term[1]!r}")
            if np.any(powers < 1) or np.any(powers > 64):
                raise ValueError(f"terms[{t}] powers must be integers in [1, 64], got {powers.tolist()}")
            checked.append((coef, tuple(int(p) for p in powers)))
        factors = sum(len(p) for _, p in checked)
        if init is None:
            direction = (1.0,) * factors
        else:
            arr = float_array(init, "init", np.float64, ndim=1)
            if arr.shape != (factors,):
                raise ValueError(f"init must have one value per factor ({factors}), got shape {arr.shape}")
            direction = tuple(float(a) for a in arr)
        object.__setattr__(self, "terms", tuple(checked))
        object.__setattr__(self, "init_direction", direction)
        object.__setattr__(self, "depth", factors)
        object.__setattr__(self, "dim", dim)

    @classmethod
    def diagonal(cls, dim, power: int = 2) -> Reparametrized:
        """Woodworth et al.'s diagonal net beta = w^p - u^p (p = 2: w*w - u*u), started at w = u = alpha 1."""
        power = integer(power, "power", minimum=1, maximum=64)
        return cls(dim, ((1.0, (power,)), (-1.0, (power,))))

    @classmethod
    def composite(cls, dim, lam) -> Reparametrized:
        """beta = w*w - u*u + lam v with v(0) = 0 and w(0) = u(0) = alpha 1 (RELATED.md 1.2 (c), a research hook)."""
        lam = float(float_array(lam, "lam", np.float64, ndim=0))
        return cls(dim, ((1.0, (2,)), (-1.0, (2,)), (lam, (1,))), init=(1.0, 1.0, 0.0))

    @classmethod
    def linear(cls, dim) -> Reparametrized:
        """beta = v: plain GD on beta (from 0: the min-l2 interpolant)."""
        return cls(dim, ((1.0, (1,)),), init=(0.0,))

    @property
    def coefficients(self) -> np.ndarray:
        """(terms,) the coefficient c_t of each term."""
        return np.array([c for c, _ in self.terms])

    @property
    def factor_term(self) -> np.ndarray:
        """(F,) the term of each factor."""
        return np.concatenate([np.full(len(p), t, dtype=np.int64) for t, (_, p) in enumerate(self.terms)])

    @property
    def factor_power(self) -> np.ndarray:
        """(F,) the power of each factor."""
        return np.array([q for _, p in self.terms for q in p], dtype=np.int64)

    @property
    def params(self) -> int:
        return self.depth * self.dim

    def _core(self):
        return {
            **super()._core(),
            "terms": len(self.terms),
            "factor_term": self.factor_term,
            "factor_power": self.factor_power,
        }

    def layers(self, theta):
        return list(theta.reshape(self.depth, self.dim))

    def _beta_kernel(self, theta):
        V = theta.reshape(self.depth, self.dim)
        beta, f = np.zeros(self.dim), 0
        for coef, powers in self.terms:
            prod = np.ones(self.dim)
            for p in powers:
                prod = prod * V[f] ** p
                f += 1
            beta += coef * prod
        return beta

    def _unit_init(self, runs, seed):
        return np.tile(np.repeat(np.asarray(self.init_direction), self.dim), (runs, 1))


def check_network(net) -> LinearTensorNet:
    """``net`` if it is a linear tensor network, else a TypeError."""
    if not isinstance(net, LinearTensorNet) or type(net) is LinearTensorNet:
        raise TypeError(
            "network must be FullyConnected, Diagonal, Convolutional, Odeco or Reparametrized, "
            f"got {type(net).__name__}"
        )
    return net


def alpha_grid(lo: float, hi: float, count: int) -> np.ndarray:
    """``count`` log-spaced initialization scales from ``lo`` to ``hi``."""
    lo, hi = positive_float(lo, "lo"), positive_float(hi, "hi")
    return np.geomspace(lo, hi, integer(count, "count", minimum=1))
