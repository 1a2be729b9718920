"""Target functions on [-1, 1]^n: compositional (a binary tree of smooth bivariate constituents) and a control.

* :func:`compositional_target`: f(x1..xn) = h_root(... h_21(h_11(x1, x2), h_12(x3, x4)) ...), n = 2^L, the
  hierarchically local compositional functions of THEORY.md 5.1 (W_m^{n,2}, constituents in W_m^2). Each
  constituent is a random smooth function of its two arguments: a sum of J random cosine features
  h(a, b) = sum_j c_j cos(w_j1 a + w_j2 b + p_j) (a draw from a Gaussian process with a squared-exponential kernel,
  in random-feature form), rescaled on a calibration sample so that its outputs span [-1, 1] like the inputs do.
* :func:`control_target`: the same kind of random smooth function, but of all n variables at once:
  g(x) = sum_j c_j cos(w_j . x + p_j) with w_j ~ N(0, s^2 I_n). It is analytic like the constituents, and its
  frequency scale s is calibrated so that its Dirichlet-energy ratio E|grad g|^2 / Var g equals the compositional
  target's (same smoothness, measured the same way). It is a generic function of n variables -- no binary-tree
  structure -- so the theory gives neither network a rate better than the curse-of-dimensionality one. (As a sum
  of ridge functions it is, if anything, the shallow network's home ground: one hidden layer approximates each
  ridge feature by a 1-D piecewise-linear fit; the tree must first carry the projections w_j . x up the tree.)

Both targets are standardized to mean 0 and variance 1 on the calibration sample, so a test MSE is a fraction of
the target's variance. Everything depends only on (n, seed) and the keyword options.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import integer, positive_float

CALIBRATION_POINTS = 8192


def tree_inputs(n: int) -> int:
    """Check that n is a power of two >= 2 (a full binary tree on n leaves), return the number of levels."""
    n = integer(n, "n", minimum=2)
    if n & (n - 1):
        raise ValueError(f"n must be a power of two (a binary tree on n inputs), got {n}")
    return n.bit_length() - 1


def uniform_inputs(n: int, count: int, *, seed: int) -> np.ndarray:
    """Points (count of them) uniform on [-1, 1]^n (float64), from numpy's Generator seeded by ``seed``."""
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (count, n))


@dataclass
class CosineFeatures:
    """h(z) = scale * (sum_j c_j cos(w_j . z + p_j) - shift): a random smooth function of z in R^k."""

    omega: np.ndarray  # (J, k)
    phase: np.ndarray  # (J,)
    coef: np.ndarray  # (J,)
    shift: float = 0.0
    scale: float = 1.0

    def raw(self, Z: np.ndarray) -> np.ndarray:
        """The unscaled sum at the rows of Z, (N,)."""
        return np.cos(Z @ self.omega.T + self.phase) @ self.coef

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        """The scaled function at the rows of Z, (N,)."""
        return self.scale * (self.raw(Z) - self.shift)

    def gradient(self, Z: np.ndarray) -> np.ndarray:
        """Gradient in z, (N, k)."""
        return -self.scale * (np.sin(Z @ self.omega.T + self.phase) * self.coef) @ self.omega


def _random_features(rng, k: int, features: int, frequency: float) -> CosineFeatures:
    return CosineFeatures(
        omega=frequency * rng.standard_normal((features, k)),
        phase=rng.uniform(0, 2 * np.pi, features),
        coef=rng.standard_normal(features) / np.sqrt(features),
    )


@dataclass
class CompositionalTarget:
    """A binary tree of bivariate constituents: ``levels[l][j]`` combines outputs 2j and 2j+1 of level l - 1."""

    n: int
    levels: list = field(default_factory=list)
    shift: float = 0.0
    scale: float = 1.0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """The target at the rows of X (N, n), standardized."""
        return self.scale * (self.unstandardized(X) - self.shift)

    def unstandardized(self, X: np.ndarray) -> np.ndarray:
        """The composition before the final standardization, (N,)."""
        values = np.asarray(X, dtype=np.float64)
        for level in self.levels:
            values = np.stack([h(values[:, 2 * j : 2 * j + 2]) for j, h in enumerate(level)], axis=1)
        return values[:, 0]


@dataclass
class ControlTarget:
    """A random smooth function of all n variables (cosine features), standardized."""

    n: int
    features: CosineFeatures

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """The target at the rows of X (N, n), standardized."""
        return self.features(np.asarray(X, dtype=np.float64))


def compositional_target(n: int, *, seed: int, features: int = 32, frequency: float = 1.0) -> CompositionalTarget:
    """A random compositional function of n = 2^L inputs (binary tree of n - 1 smooth bivariate constituents).

    Parameters
    ----------
    n : int
        Inputs, a power of two (4, 8, 16, ...).
    seed : int
        Seeds the constituents and the calibration sample.
    features : int
        J, cosine features per constituent.
    frequency : float
        Standard deviation of the features' frequencies (in units of the [-1, 1] input range): larger is rougher.
    """
    levels = tree_inputs(n)
    features = integer(features, "features", minimum=1)
    frequency = positive_float(frequency, "frequency")
    rng = np.random.default_rng([int(seed), 0xC0FFEE])
    values = uniform_inputs(n, CALIBRATION_POINTS, seed=int(seed) + 1)
    target = CompositionalTarget(n=n)
    for level in range(levels):
        nodes, outputs = [], []
        for j in range(n >> (level + 1)):
            h = _random_features(rng, 2, features, frequency)
            raw = h.raw(values[:, 2 * j : 2 * j + 2])
            lo, hi = raw.min(), raw.max()
            h.shift, h.scale = 0.5 * (lo + hi), 2.0 / max(hi - lo, 1e-12)  # outputs span [-1, 1] like the inputs
            nodes.append(h)
            outputs.append(h(values[:, 2 * j : 2 * j + 2]))
        target.levels.append(nodes)
        values = np.stack(outputs, axis=1)
    final = values[:, 0]
    target.shift, target.scale = float(final.mean()), 1.0 / float(final.std())
    return target


def dirichlet_ratio(f, n: int, *, seed: int, points: int = 4096, step: float = 1e-5) -> float:
    """E|grad f|^2 / Var f over uniform points on [-1, 1]^n (central differences): a scale-free roughness."""
    X = uniform_inputs(n, points, seed=seed)
    grad_sq = np.zeros(points)
    for i in range(n):
        e = np.zeros(n)
        e[i] = step
        grad_sq += ((f(X + e) - f(X - e)) / (2 * step)) ** 2
    return float(grad_sq.mean() / f(X).var())


def control_target(n: int, *, seed: int, features: int = 256, roughness: float | None = None) -> ControlTarget:
    """A random smooth function of all n inputs with the compositional target's roughness.

    Parameters
    ----------
    n : int
        Inputs.
    seed : int
        Seeds the features (and, when ``roughness`` is None, the compositional target it is matched to).
    features : int
        J, cosine features of all n inputs.
    roughness : float, optional
        The Dirichlet ratio E|grad g|^2 / Var g to match; default: that of ``compositional_target(n, seed=seed)``.
    """
    n = integer(n, "n", minimum=1)
    features = integer(features, "features", minimum=1)
    if roughness is None:
        roughness = dirichlet_ratio(compositional_target(n, seed=seed), n, seed=int(seed) + 2)
    roughness = positive_float(roughness, "roughness")
    rng = np.random.default_rng([int(seed), 0xBEEF])
    h = _random_features(rng, n, features, 1.0)
    X = uniform_inputs(n, CALIBRATION_POINTS, seed=int(seed) + 3)
    direction = h.omega.copy()
    frequency = np.sqrt(roughness / n)  # E|w|^2 = n s^2 is the ratio for features much faster than the cube
    for _ in range(30):  # fixed point on the measured ratio (exact gradients); it scales about like s^2
        h.omega = frequency * direction
        values = h.raw(X)
        grads = -(np.sin(X @ h.omega.T + h.phase) * h.coef) @ h.omega
        measured = float((grads**2).sum(axis=1).mean() / values.var())
        if abs(measured / roughness - 1) < 1e-6:
            break
        frequency *= np.sqrt(roughness / measured)
    values = h.raw(X)
    h.shift, h.scale = float(values.mean()), 1.0 / float(values.std())
    return ControlTarget(n=n, features=h)
