"""Finite-sum problems F(x) = (1/n) sum_i f_i(x) that the engine can run SGD on.

Each problem holds its data as NumPy arrays of one float dtype (float32 or float64), evaluates its objective and
gradients in NumPy (used for checks and small computations), and knows, where a closed form exists, its minimizer
``x_star``, optimal value ``f_star``, strong-convexity constant ``mu`` and smoothness constants: ``L`` (every f_i is
L-smooth) and ``L_F`` (F is L_F-smooth). Quantities without a closed form are ``None``.

Optimal values and minimizers are always computed in float64 from the float64 data, whatever the problem's dtype,
on data rescaled by a power of two (exact), so that they are right at any scale float64 can hold. Every problem
checks after construction that its data and these constants are finite in its own dtype (and that curvatures are
not flushed below its smallest normal number); data whose scale does not fit raises ``ValueError`` saying which
argument to rescale, rather than giving a NaN optimum or a gap of 0.
"""

from __future__ import annotations

import numpy as np

from ._validation import (
    MAX_WORKERS,
    WHY_WORKERS,
    as_dtype,
    binary_exponent,
    float_array,
    generator,
    integer,
    nonnegative_float,
    positive_float,
    representable,
    unscale,
)


class _ChecksAfterInit(type):
    """Runs :meth:`Problem._check_representable` once the outermost ``__init__`` is done, for every problem kind."""

    def __call__(cls, *args, **kwargs):
        problem = super().__call__(*args, **kwargs)
        problem._check_representable()
        return problem


class Problem(metaclass=_ChecksAfterInit):
    """Base class: the common attributes and the interface the engine uses."""

    kind: str = ""
    #: the constructor arguments the constants are computed from (named in the errors of _check_representable)
    _sources: str = "the data"
    #: constant Hessian of F (gaps are then computed as 1/2 e'He, free of cancellation), else None
    hessian: np.ndarray | None = None

    def __init__(self, n: int, dim: int, dtype):
        self.n = n
        self.dim = dim
        self.dtype = as_dtype(dtype)
        self.x_star: np.ndarray | None = None
        self.f_star: float | None = None
        self.mu: float | None = None
        self.L: float | None = None
        self.L_F: float | None = None

    # --- the engine's view -------------------------------------------------------------------------------------
    def _data(self) -> dict:
        """Arrays and scalars for the compiled core (in the problem's dtype)."""
        raise NotImplementedError

    def _check_start(self, x) -> None:
        """Raise ValueError if the (R, d) starting points are not valid iterates (hook; any point by default)."""

    def _check_representable(self) -> None:
        """Raise ValueError unless the engine's inputs and the reported constants are finite in the problem's dtype.

        Data arrays must be finite after the cast to the dtype; nonzero float parameters (l2, L, mu, ...) must be
        normal numbers of it (not flushed to zero); x_star, f_star, mu, L, L_F and the Hessian must be finite in it.
        """
        dt, hint = self.dtype, f"; rescale {self._sources}" + _or_float64(self.dtype)
        try:
            data = self._data()
        except NotImplementedError:  # a NumPy-only subclass the engine cannot run: only its constants to check
            data = {}
        for key, value in data.items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                if not np.all(np.isfinite(value)):
                    raise ValueError(f"{key} must be finite in the problem's dtype {dt}{hint}")
            elif isinstance(value, float | np.floating):
                representable(value, key, dt, normal=True, hint=hint)
        for name in ("x_star", "hessian", "f_star", "mu", "L", "L_F"):
            value = getattr(self, name)
            if value is not None:
                representable(value, f"{name} (computed from {self._sources})", dt, hint=hint)

    # --- NumPy evaluation ----------------------------------------------------------------------------------------
    def component_gradient(self, i: int, x) -> np.ndarray:
        """Gradient of f_i at x (NumPy, in float64)."""
        raise NotImplementedError

    def gradient(self, x) -> np.ndarray:
        """Gradient of F at x (NumPy, float64)."""
        return np.mean([self.component_gradient(i, x) for i in range(self.n)], axis=0)

    def objective(self, x) -> np.ndarray:
        """F(x) for x of shape (d,) or a batch (..., d), in float64."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n}, dim={self.dim}, dtype={self.dtype})"


def _numerical_min_eigenvalue(eig) -> float:
    """The smallest eigenvalue, or 0 where it is at rounding level (numerically singular, or not PSD)."""
    return float(eig[0]) if eig[0] > eig.size * np.finfo(np.float64).eps * abs(eig[-1]) else 0.0


def _or_float64(dtype) -> str:
    return " or use float64" if dtype != np.float64 else ""


def _finite_float(value, name: str) -> float:
    """``value`` as a finite float (any sign), else TypeError / ValueError naming ``name``."""
    return float(float_array(value, name, np.float64, ndim=0))


def _check_labels(y, n: int) -> np.ndarray:
    y = float_array(y, "y", np.float64, shape=(n,))
    if not np.all(np.abs(y) == 1):
        raise ValueError("y must hold labels in {-1, +1}")
    return y


class LeastSquares(Problem):
    """f_i(x) = 1/2 (a_i'x - b_i)^2 + l2/2 |x|^2.

    Parameters
    ----------
    A : array (n, d)
    b : array (n,)
    l2 : float, optional
        Ridge coefficient (added to every component).
    dtype : float32 or float64, optional
        Defaults to float64.
    """

    kind = "least_squares"
    _sources = "A, b and l2"

    def __init__(self, A, b, *, l2: float = 0.0, dtype=np.float64):
        A64 = float_array(A, "A", np.float64, ndim=2)
        n, d = A64.shape
        if n < 1 or d < 1:
            raise ValueError(f"A must have at least one row and one column, got shape {A64.shape}")
        b64 = float_array(b, "b", np.float64, shape=(n,))
        super().__init__(n, d, dtype)
        self.l2 = nonnegative_float(l2, "l2")
        self._A64, self._b64 = A64, b64
        self.A = float_array(A64, "A", self.dtype)
        self.b = float_array(b64, "b", self.dtype)
        # A = 2^k Ah exactly; the curvatures scale by 4^k, checked to be normal numbers (a flushed A'A/n would
        # make the Hessian-based gap 0 and x_star NaN)
        k = binary_exponent(A64)
        Ah = np.ldexp(A64, -k)
        curvature = f"the curvature A'A/n (max |A| = {np.max(np.abs(A64)):.3g})"
        hint = "; rescale A and b (e.g. divide both by max |A|)" + _or_float64(self.dtype)
        self.hessian = unscale(Ah.T @ Ah / n, 2 * k, curvature, self.dtype, hint=hint) + self.l2 * np.eye(d)
        eig = unscale(np.linalg.eigvalsh(Ah.T @ Ah / n), 2 * k, curvature, self.dtype, hint=hint) + self.l2
        self.mu = _numerical_min_eigenvalue(eig)
        self.L_F = float(eig[-1])
        self.L = unscale(float(np.max(np.sum(Ah * Ah, axis=1))), 2 * k, curvature, self.dtype, hint=hint) + self.l2
        with np.errstate(over="ignore"):  # an overflowing x_star is refused by _check_representable
            if self.l2 > 0:
                self.x_star = np.linalg.solve(self.hessian, np.ldexp(Ah.T @ b64 / n, k))
            else:  # the minimum-norm minimizer; F* is attained by every minimizer
                self.x_star = np.ldexp(np.linalg.lstsq(Ah, b64, rcond=None)[0], -k)
        representable(self.x_star, "x_star (the minimizer, from A and b)", self.dtype, hint=hint)
        with np.errstate(over="ignore"):  # an overflowing f_star is refused by _check_representable
            self.f_star = float(self.objective(self.x_star))

    @classmethod
    def random(cls, n: int, dim: int, *, seed=0, noise: float = 0.1, l2: float = 0.0, dtype=np.float64):
        """Gaussian A (n, dim), b = A x_true + noise * N(0, 1), from ``numpy.random.default_rng(seed)``."""
        n, dim = integer(n, "n", minimum=1), integer(dim, "dim", minimum=1)
        noise = nonnegative_float(noise, "noise")
        rng = generator(seed)
        A = rng.standard_normal((n, dim))
        b = A @ rng.standard_normal(dim) + noise * rng.standard_normal(n)
        return cls(A, b, l2=l2, dtype=dtype)

    def _data(self):
        return {"A": self.A, "b": self.b, "l2": self.l2}

    def component_gradient(self, i, x):
        x = np.asarray(x, dtype=np.float64)
        a = self._A64[i]
        return a * (a @ x - self._b64[i]) + self.l2 * x

    def gradient(self, x):
        x = np.asarray(x, dtype=np.float64)
        return self._A64.T @ (self._A64 @ x - self._b64) / self.n + self.l2 * x

    def objective(self, x):
        x = np.asarray(x, dtype=np.float64)
        r = x @ self._A64.T - self._b64
        value = 0.5 * np.mean(r * r, axis=-1)
        return value + 0.5 * self.l2 * np.sum(x * x, axis=-1) if self.l2 else value  # (0 * inf for a huge x)


class _MarginProblem(Problem):
    """Shared code of the logistic and exponential losses."""

    _sources = "A and l2"

    def __init__(self, A, y, *, l2: float = 0.0, dtype=np.float64):
        A64 = float_array(A, "A", np.float64, ndim=2)
        n, d = A64.shape
        if n < 1 or d < 1:
            raise ValueError(f"A must have at least one row and one column, got shape {A64.shape}")
        y64 = _check_labels(y, n)
        super().__init__(n, d, dtype)
        self.l2 = nonnegative_float(l2, "l2")
        self._A64, self._y64 = A64, y64
        self.A = float_array(A64, "A", self.dtype)
        self.y = y64.astype(self.dtype)
        self.mu = self.l2
        # A = 2^k Ah exactly: the curvatures are computed at unit scale, and must be normal numbers (checked
        # before Newton's method, which needs them)
        k = binary_exponent(A64)
        Ah = np.ldexp(A64, -k)
        curvature = f"the curvature |a_i|^2 (max |A| = {np.max(np.abs(A64)):.3g})"
        hint = "; rescale A" + _or_float64(self.dtype)
        self._row_sq = unscale(float(np.max(np.sum(Ah**2, axis=1))), 2 * k, curvature, self.dtype, hint=hint)
        self._gram_top = unscale(float(np.linalg.eigvalsh(Ah.T @ Ah / n)[-1]), 2 * k, curvature, self.dtype, hint=hint)
        if self.l2 > 0:
            try:
                self.x_star = self._newton()
            except np.linalg.LinAlgError:
                self.x_star = np.full(d, np.nan)
            if not np.all(np.isfinite(self.x_star)):
                raise ValueError(
                    f"the minimizer could not be computed: the Hessian is numerically singular at this scale "
                    f"(max |a_i|^2 = {self._row_sq:.3g} against l2 = {self.l2:.3g}); rescale A or increase l2"
                )
            self.f_star = float(self.objective(self.x_star))

    @staticmethod
    def _phi(z):
        raise NotImplementedError

    @staticmethod
    def _dphi(z):
        raise NotImplementedError

    @staticmethod
    def _d2phi(z):
        raise NotImplementedError

    def _newton(self, tol: float = 1e-14, max_iter: int = 100) -> np.ndarray:
        """Minimizer of the l2-regularized (strongly convex) objective by damped Newton, in float64.

        Stops when |grad| <= tol (|data term| + l2 |x|), relative to the two terms that cancel at the minimum, so
        that the result does not depend on the data's scale; raises ValueError if even 1e-8 is not reached.
        """
        A, y, n = self._A64, self._y64, self.n
        x = np.zeros(self.dim)
        with np.errstate(over="ignore"):  # a trial point where exp overflows has F = inf: the line search halves t
            for _ in range(max_iter + 1):
                z = y * (A @ x)
                data = A.T @ (y * self._dphi(z)) / n
                g = data + self.l2 * x
                size = np.linalg.norm(data) + self.l2 * np.linalg.norm(x)
                if np.linalg.norm(g) <= tol * size:
                    return x
                H = (A.T * self._d2phi(z)) @ A / n + self.l2 * np.eye(self.dim)
                step = np.linalg.solve(H, g)
                t, f0 = 1.0, self.objective(x)
                slack = 8 * np.finfo(np.float64).eps * abs(f0)  # near x* the decrease is below F's rounding
                while self.objective(x - t * step) > f0 - 0.25 * t * (g @ step) + slack and t > 1e-12:
                    t *= 0.5
                x = x - t * step
        if not np.linalg.norm(g) <= 1e-8 * size:
            raise ValueError(
                f"Newton's method did not find the minimizer (relative gradient {np.linalg.norm(g) / size:.2g} "
                f"after {max_iter} steps); the problem is too ill-conditioned at this scale: rescale A or increase l2"
            )
        return x

    def _data(self):
        return {"A": self.A, "y": self.y, "l2": self.l2}

    def component_gradient(self, i, x):
        x = np.asarray(x, dtype=np.float64)
        a, yi = self._A64[i], self._y64[i]
        return self._dphi(yi * (a @ x)) * yi * a + self.l2 * x

    def gradient(self, x):
        x = np.asarray(x, dtype=np.float64)
        z = self._y64 * (self._A64 @ x)
        return self._A64.T @ (self._y64 * self._dphi(z)) / self.n + self.l2 * x

    def objective(self, x):
        x = np.asarray(x, dtype=np.float64)
        z = (x @ self._A64.T) * self._y64
        value = np.mean(self._phi(z), axis=-1)
        return value + 0.5 * self.l2 * np.sum(x * x, axis=-1) if self.l2 else value  # (0 * inf for a huge x)


class Logistic(_MarginProblem):
    """f_i(x) = log(1 + exp(-y_i a_i'x)) + l2/2 |x|^2, labels y_i in {-1, +1}.

    With ``l2 > 0`` the minimizer is computed by Newton's method in float64; without, ``x_star`` and ``f_star``
    are None (on separable data there is no minimizer).
    """

    kind = "logistic"

    def __init__(self, A, y, *, l2: float = 0.0, dtype=np.float64):
        super().__init__(A, y, l2=l2, dtype=dtype)
        self.L = 0.25 * self._row_sq + self.l2
        self.L_F = 0.25 * self._gram_top + self.l2

    @staticmethod
    def _phi(z):
        return np.logaddexp(0.0, -z)

    @staticmethod
    def _dphi(z):
        return -0.5 * (1.0 - np.tanh(0.5 * z))  # = -1 / (1 + e^z), stable for both signs

    @staticmethod
    def _d2phi(z):
        s = 0.5 * (1.0 - np.tanh(0.5 * z))
        return s * (1.0 - s)


class Exponential(_MarginProblem):
    """f_i(x) = exp(-y_i a_i'x) + l2/2 |x|^2, labels y_i in {-1, +1}. Not globally smooth: ``L`` is None."""

    kind = "exponential"

    @staticmethod
    def _phi(z):
        return np.exp(-z)

    @staticmethod
    def _dphi(z):
        return -np.exp(-z)

    @staticmethod
    def _d2phi(z):
        return np.exp(-z)


class QuadraticComponents(Problem):
    """f_i(x) = 1/2 x'A_i x - b_i'x with symmetric A_i (different, possibly non-commuting Hessians).

    Parameters
    ----------
    A : array (n, d, d)
        Symmetric component Hessians (checked to 1e-12 relative, then symmetrized exactly).
    b : array (n, d)
    """

    kind = "quadratic"
    _sources = "A and b"

    def __init__(self, A, b, *, dtype=np.float64):
        A64 = float_array(A, "A", np.float64, ndim=3)
        n, d, d2 = A64.shape
        if d != d2 or n < 1 or d < 1:
            raise ValueError(f"A must have shape (n, d, d), got {A64.shape}")
        scale = float(np.max(np.abs(A64)))  # relative at every scale: 1e-20 * [[1, 2], [0, 1]] is not symmetric
        if np.max(np.abs(A64 - A64.transpose(0, 2, 1))) > 1e-12 * scale:
            raise ValueError("A must hold symmetric matrices A[i] == A[i].T")
        A64 = 0.5 * (A64 + A64.transpose(0, 2, 1))
        b64 = float_array(b, "b", np.float64, shape=(n, d))
        super().__init__(n, d, dtype)
        self._A64, self._b64 = A64, b64
        self.A = float_array(A64, "A", self.dtype)
        self.b = float_array(b64, "b", self.dtype)
        k = binary_exponent(A64)  # A = 2^k Ah exactly: the mean and the spectra are computed at unit scale
        Ah = np.ldexp(A64, -k)
        curvature = f"the curvature (max |A| = {scale:.3g})"
        hint = "; rescale A" + _or_float64(self.dtype)
        self.hessian = unscale(Ah.mean(axis=0), k, curvature, self.dtype, hint=hint)
        eig = unscale(np.linalg.eigvalsh(Ah.mean(axis=0)), k, curvature, self.dtype, hint=hint)
        self.mu = _numerical_min_eigenvalue(eig)
        self.L_F = float(eig[-1])
        self.L = unscale(float(np.max(np.abs(np.linalg.eigvalsh(Ah)))), k, curvature, self.dtype, hint=hint)
        if self.mu > 0:
            with np.errstate(over="ignore"):  # an overflowing x_star is refused by _check_representable
                self.x_star = np.ldexp(np.linalg.solve(Ah.mean(axis=0), b64.mean(axis=0)), -k)
            representable(self.x_star, "x_star (the minimizer, from A and b)", self.dtype, hint="; rescale A and b")
            with np.errstate(over="ignore"):  # an overflowing f_star is refused by _check_representable
                self.f_star = float(self.objective(self.x_star))

    @classmethod
    def random(cls, n: int, dim: int, *, seed=0, low: float = 0.5, high: float = 2.0, dtype=np.float64):
        """Random non-commuting components: A_i = Q_i diag(U[low, high]) Q_i' with Haar Q_i, b_i ~ N(0, I)."""
        n, dim = integer(n, "n", minimum=1), integer(dim, "dim", minimum=1)
        low, high = _finite_float(low, "low"), _finite_float(high, "high")
        if low > high:
            raise ValueError(f"low must be <= high, got low = {low}, high = {high}")
        rng = generator(seed)
        As = np.empty((n, dim, dim))
        for i in range(n):
            q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
            q = q * np.sign(np.diag(r))
            As[i] = (q * rng.uniform(low, high, dim)) @ q.T
        return cls(As, rng.standard_normal((n, dim)), dtype=dtype)

    def _data(self):
        return {"A": self.A, "b": self.b}

    def component_gradient(self, i, x):
        x = np.asarray(x, dtype=np.float64)
        return self._A64[i] @ x - self._b64[i]

    def gradient(self, x):
        x = np.asarray(x, dtype=np.float64)
        return self.hessian @ x - self._b64.mean(axis=0)

    def objective(self, x):
        x = np.asarray(x, dtype=np.float64)
        return 0.5 * np.einsum("...i,ij,...j->...", x, self.hessian, x) - x @ self._b64.mean(axis=0)


class LowerBound1D(Problem):
    """The 1-D lower-bound function of Yun, Rajput and Sra (ICLR 2022), THEORY.md 4.3.

    f_i(x) = (L 1[x <= 0] + mu 1[x > 0]) x^2 / 2 + z_i nu x, with z_i = +1 for the first half of each worker's N
    components and -1 for the second half (the same on every worker). With N even, F* = 0 at x* = 0.

    Parameters
    ----------
    per_worker : int
        N, components per worker.
    workers : int
        M; the problem has n = M N components, worker m owning components m N .. (m + 1) N - 1.
    L, mu, nu : float
        Curvatures (L >= mu > 0) and the noise scale nu.
    """

    kind = "lower_bound"
    _sources = "L, mu and nu"

    def __init__(
        self, per_worker: int, *, workers: int = 1, L: float = 1.0, mu: float = 0.1, nu: float = 1.0, dtype=np.float64
    ):
        N = integer(per_worker, "per_worker", minimum=2)
        M = integer(workers, "workers", minimum=1, maximum=MAX_WORKERS, why=WHY_WORKERS)  # run_sgd's limit
        super().__init__(N * M, 1, dtype)
        self.L = self.L_F = positive_float(L, "L")
        self.mu = positive_float(mu, "mu")
        if self.mu > self.L:
            raise ValueError(f"mu must be <= L, got mu = {mu}, L = {L}")
        self.nu = nonnegative_float(nu, "nu")
        self.per_worker, self.workers = N, M
        z = np.where(np.arange(N) < N // 2, 1.0, -1.0)
        self._z64 = np.tile(z, M)
        self.z = self._z64.astype(self.dtype)
        c = self._z64.mean() * self.nu  # F(x) = curv(x) x^2/2 + c x
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing x_star is refused after __init__
            self.x_star = np.array([-c / self.L if c > 0 else -c / self.mu])
            self.f_star = float(self.objective(self.x_star))

    def _data(self):
        return {"z": self.z, "L": self.L, "mu": self.mu, "nu": self.nu}

    def _curvature(self, x):
        return np.where(x <= 0, self.L, self.mu)

    def component_gradient(self, i, x):
        x = np.asarray(x, dtype=np.float64)
        return self._curvature(x) * x + self._z64[i] * self.nu

    def gradient(self, x):
        x = np.asarray(x, dtype=np.float64)
        return self._curvature(x) * x + self._z64.mean() * self.nu

    def objective(self, x):
        x = np.asarray(x, dtype=np.float64)[..., 0]
        return self._curvature(x) * x * x / 2 + self._z64.mean() * self.nu * x


def shuffling_benchmark_1d(n: int = 64, *, dtype=np.float64) -> LeastSquares:
    """THEORY.md 4.7's reference instance: f_i(x) = 1/2 (x - b_i)^2 with b = (+1)^{n/2} then (-1)^{n/2}; F* = 0 at 0."""
    n = integer(n, "n", minimum=2)
    if n % 2:
        raise ValueError(f"n must be even, got {n}")
    b = np.where(np.arange(n) < n // 2, 1.0, -1.0)
    return LeastSquares(np.ones((n, 1)), b, dtype=dtype)


def _armijo(objective, x, f: float, g, step) -> float | None:
    """The first t in 1, 1/2, 1/4, ... > 1e-12 with objective(x - t step) <= f - 1e-4 t g'step, else None."""
    t, slope = 1.0, float(g @ step)
    while t > 1e-12:
        if float(objective(x - t * step)) <= f - 1e-4 * t * slope:
            return t
        t *= 0.5
    return None


class _LinearLossProblem(Problem):
    """Shared code of the generalized linear losses f_i(x) = loss(a_i'x; c_i) + l2/2 |x|^2.

    c_i is each component's target or label; a subclass gives the loss and its first two derivatives in z = a_i'x,
    elementwise in (z, c), and calls :meth:`_solve` once its parameters are set.
    """

    def __init__(self, A, c, *, l2: float, dtype):
        A64 = float_array(A, "A", np.float64, ndim=2)
        n, d = A64.shape
        if n < 1 or d < 1:
            raise ValueError(f"A must have at least one row and one column, got shape {A64.shape}")
        c64 = self._check_targets(c, n)
        super().__init__(n, d, dtype)
        self.l2 = nonnegative_float(l2, "l2")
        self._A64, self._c64 = A64, c64
        self.A = A64.astype(self.dtype)
        self.mu = self.l2

    @staticmethod
    def _check_targets(c, n: int) -> np.ndarray:
        raise NotImplementedError

    def _loss(self, z, c):
        raise NotImplementedError

    def _dloss(self, z, c):
        raise NotImplementedError

    def _d2loss(self, z, c):
        raise NotImplementedError

    def _smoothness(self, curvature_bound: np.ndarray) -> tuple[float, float]:
        """(L, L_F) when loss'' <= curvature_bound[i] for component i: max_i c_i |a_i|^2 and |A'diag(c)A/n|."""
        A = self._A64
        L = float(np.max(curvature_bound * np.sum(A * A, axis=1))) + self.l2
        L_F = float(np.linalg.eigvalsh((A.T * curvature_bound) @ A / self.n)[-1]) + self.l2
        return L, L_F

    def _solve(self, max_iter: int = 200) -> None:
        """x_star and f_star by damped (semismooth) Newton in float64, when the minimizer is unique.

        With l2 > 0 the objective is strongly convex and Newton converges from 0. With l2 = 0 the result is kept
        only when Newton converged (gradient at rounding level) to a point where the Hessian is positive definite,
        so that the minimizer exists and is unique; otherwise x_star and f_star stay None.
        """
        A, c, n, d = self._A64, self._c64, self.n, self.dim
        x = np.zeros(d)
        eye = np.eye(d)
        scale = max(1.0, float(np.sum(A * A)) / n)  # trace of A'A/n: the size of a Hessian
        damping = 0.0
        with np.errstate(over="ignore", invalid="ignore"):  # trial points of the line search may overflow exp
            f = float(self.objective(x))
            g0 = max(1.0, float(np.linalg.norm(self.gradient(x))))
            for _ in range(max_iter):
                z = A @ x
                g = A.T @ self._dloss(z, c) / n + self.l2 * x
                if np.linalg.norm(g) <= 1e-14 * g0:
                    break
                H = (A.T * self._d2loss(z, c)) @ A / n + self.l2 * eye
                # A generalized Hessian can be singular or far from the curvature ahead (l2 = 0 and every Huber
                # residual beyond delta, exp far from its value at x): Levenberg-Marquardt damping, raised while the
                # line search finds no decrease, keeps the step defined and short enough.
                while True:
                    step = np.linalg.solve(H + (1e-12 * scale + damping) * eye, g)
                    t = _armijo(self.objective, x, f, g, step)
                    if t is not None or damping > 1e8 * scale:
                        break
                    damping = max(1e-6 * scale, 1e3 * damping)
                if t is None:
                    break  # no decrease left even along the gradient: as converged as float64 allows
                damping = 0.0 if damping <= 1e-6 * scale else damping / 1e3
                x = x - t * step
                f = float(self.objective(x))
            z = A @ x
            g = A.T @ self._dloss(z, c) / n + self.l2 * x
            H = (A.T * self._d2loss(z, c)) @ A / n + self.l2 * eye
        converged = bool(np.all(np.isfinite(x))) and float(np.linalg.norm(g)) <= 1e-9 * g0
        unique = self.l2 > 0 or _numerical_min_eigenvalue(np.linalg.eigvalsh(H)) > 0
        if converged and unique:
            # A small gradient alone can mislead: exp(a_i'x) -> 0 along a ray makes both the gradient and the
            # Hessian vanish. At a minimizer the (undamped) Newton step is at rounding level too.
            converged = float(np.linalg.norm(np.linalg.solve(H, g))) <= 1e-8 * max(1.0, float(np.linalg.norm(x)))
        if converged and unique:
            self.x_star = x
            self.f_star = float(self.objective(x))

    def component_gradient(self, i, x):
        x = np.asarray(x, dtype=np.float64)
        a = self._A64[i]
        return float(self._dloss(a @ x, self._c64[i])) * a + self.l2 * x

    def gradient(self, x):
        x = np.asarray(x, dtype=np.float64)
        return self._A64.T @ self._dloss(self._A64 @ x, self._c64) / self.n + self.l2 * x

    def objective(self, x):
        x = np.asarray(x, dtype=np.float64)
        return np.mean(self._loss(x @ self._A64.T, self._c64), axis=-1) + 0.5 * self.l2 * np.sum(x * x, axis=-1)


class HuberRegression(_LinearLossProblem):
    """f_i(x) = h_delta(a_i'x - b_i) + l2/2 |x|^2, Huber's loss of the residual (robust regression).

    h_delta(r) = r^2/2 for |r| <= delta and delta (|r| - delta/2) beyond. h_delta'' <= 1, so ``L`` = max_i |a_i|^2
    + l2 and ``L_F`` = lambda_max(A'A/n) + l2, as for least squares; ``mu`` = l2. The minimizer is computed by
    semismooth Newton in float64; without l2 it is kept only where it is unique (A of full column rank on the
    residuals within delta), else x_star and f_star are None.

    Parameters
    ----------
    A : array (n, d)
    b : array (n,)
    delta : float
        The threshold between the quadratic and the linear part (> 0).
    l2 : float, optional
    dtype : float32 or float64, optional
    """

    kind = "huber"
    _sources = "A, b, delta and l2"

    def __init__(self, A, b, *, delta: float = 1.0, l2: float = 0.0, dtype=np.float64):
        super().__init__(A, b, l2=l2, dtype=dtype)
        self.delta = positive_float(delta, "delta")
        self.b = self._c64.astype(self.dtype)
        self.L, self.L_F = self._smoothness(np.ones(self.n))
        self._solve()

    @staticmethod
    def _check_targets(c, n):
        return float_array(c, "b", np.float64, shape=(n,))

    def _loss(self, z, c):
        r = np.abs(z - c)
        return np.where(r <= self.delta, 0.5 * r * r, self.delta * (r - 0.5 * self.delta))

    def _dloss(self, z, c):
        return np.clip(z - c, -self.delta, self.delta)

    def _d2loss(self, z, c):
        return (np.abs(z - c) <= self.delta).astype(np.float64)

    def _data(self):
        return {"A": self.A, "b": self.b, "l2": self.l2, "delta": self.delta}


class SquaredHinge(_LinearLossProblem):
    """f_i(x) = 1/2 max(0, 1 - y_i a_i'x)^2 + l2/2 |x|^2, labels y_i in {-1, +1} (the L2-SVM loss, halved).

    The loss has a 1-Lipschitz derivative, so ``L`` = max_i |a_i|^2 + l2 and ``L_F`` = lambda_max(A'A/n) + l2;
    ``mu`` = l2. The minimizer is computed by semismooth Newton in float64; without l2 it is kept only where it
    is unique (on separable data every x with all margins >= 1 is a minimizer, and x_star, f_star are None).

    Parameters
    ----------
    A : array (n, d)
    y : array (n,)
        Labels in {-1, +1}.
    l2 : float, optional
    dtype : float32 or float64, optional
    """

    kind = "squared_hinge"
    _sources = "A and l2"

    def __init__(self, A, y, *, l2: float = 0.0, dtype=np.float64):
        super().__init__(A, y, l2=l2, dtype=dtype)
        self.y = self._c64.astype(self.dtype)
        self.L, self.L_F = self._smoothness(np.ones(self.n))
        self._solve()

    @staticmethod
    def _check_targets(c, n):
        return _check_labels(c, n)

    def _loss(self, z, y):
        m = np.maximum(0.0, 1.0 - y * z)
        return 0.5 * m * m

    def _dloss(self, z, y):
        return -y * np.maximum(0.0, 1.0 - y * z)

    def _d2loss(self, z, y):
        return (y * z < 1.0).astype(np.float64)

    def _data(self):
        return {"A": self.A, "y": self.y, "l2": self.l2}


class PoissonRegression(_LinearLossProblem):
    """f_i(x) = exp(a_i'x) - y_i a_i'x + l2/2 |x|^2, counts y_i >= 0: Poisson regression with the log link.

    f_i is the negative log-likelihood of y_i ~ Poisson(exp(a_i'x)) up to log(y_i!). It is not globally smooth
    (the Hessian exp(a_i'x) a_i a_i' grows without bound), so ``L`` and ``L_F`` are None; :meth:`smoothness_on_ball`
    gives them on a ball |x| <= radius. ``mu`` = l2. The minimizer is computed by damped Newton in float64; without
    l2 it is kept only when it exists and is unique (e.g. all y_i > 0 and A of full column rank), else x_star and
    f_star are None.

    Parameters
    ----------
    A : array (n, d)
    y : array (n,)
        Counts (any finite numbers >= 0).
    l2 : float, optional
    dtype : float32 or float64, optional
    """

    kind = "poisson"
    _sources = "A, y and l2"

    def __init__(self, A, y, *, l2: float = 0.0, dtype=np.float64):
        super().__init__(A, y, l2=l2, dtype=dtype)
        self.y = self._c64.astype(self.dtype)
        self._solve()

    @staticmethod
    def _check_targets(c, n):
        y = float_array(c, "y", np.float64, shape=(n,))
        if np.any(y < 0):
            raise ValueError(f"y must hold counts >= 0 (Poisson regression), got min(y) = {float(y.min())}")
        return y

    def smoothness_on_ball(self, radius: float) -> tuple[float, float]:
        """(L, L_F) on the ball |x| <= radius: f_i'' <= exp(|a_i| radius) a_i a_i' + l2 I there.

        Returns ``L`` = max_i exp(|a_i| radius) |a_i|^2 + l2 and ``L_F`` = lambda_max(A' D A / n) + l2 with
        D = diag(exp(|a_i| radius)): every f_i, and F, is that smooth on the ball (and on no larger set in general).
        """
        radius = nonnegative_float(radius, "radius")
        norms = np.linalg.norm(self._A64, axis=1)
        with np.errstate(over="ignore"):
            bound = np.exp(norms * radius)
        if not np.all(np.isfinite(bound)):
            raise ValueError(f"exp(|a_i| radius) overflows for radius = {radius}: the constants are not finite")
        return self._smoothness(bound)

    def _loss(self, z, y):
        return np.exp(z) - y * z

    def _dloss(self, z, y):
        return np.exp(z) - y

    def _d2loss(self, z, y):
        return np.exp(z) + 0.0 * y

    def _data(self):
        return {"A": self.A, "y": self.y, "l2": self.l2}
