"""The target distribution N(0, Sigma_0) of a Bures-Wasserstein generator: a checked covariance and its spectrum."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._validation import float_array, integer, nonnegative_float

#: relative tolerance of the symmetry and positive-semidefiniteness checks of a target covariance
TARGET_RTOL = 1e-10


@dataclass(frozen=True, eq=False)
class Target:
    """A centred Gaussian target N(0, Sigma_0), Sigma_0 = Omega diag(lambda) Omega^T, lambda descending.

    Build one with :meth:`from_covariance`, :meth:`from_spectrum` or :meth:`zipf`.

    Attributes
    ----------
    covariance : (d, d) array
        Sigma_0 (symmetrized).
    eigenvalues : (d,) array
        lambda_1 >= ... >= lambda_d >= 0 (round-off negatives set to 0).
    eigenvectors : (d, d) array
        Omega, column i the eigenvector of lambda_i.
    root : (d, d) array
        R_0 = Sigma_0^{1/2} = Omega diag(sqrt(lambda)) Omega^T.
    """

    covariance: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    root: np.ndarray

    @property
    def dim(self) -> int:
        """d, the dimension of the samples x."""
        return self.covariance.shape[0]

    @property
    def trace(self) -> float:
        """tr Sigma_0."""
        return float(self.eigenvalues.sum())

    @classmethod
    def from_covariance(cls, covariance, name: str = "target") -> Target:
        """Check that ``covariance`` is a symmetric positive semidefinite matrix and take its spectrum.

        Parameters
        ----------
        covariance : (d, d) array_like
            Symmetric to a relative 1e-10 and positive semidefinite to a relative -1e-10 (of its largest
            eigenvalue); anything else raises ``ValueError`` naming ``name``.
        name : str
            The argument's name in error messages.

        Returns
        -------
        Target
        """
        S = float_array(covariance, name, np.float64, ndim=2)
        if S.shape[0] != S.shape[1] or S.shape[0] < 1:
            raise ValueError(f"{name} must be a square (d, d) covariance matrix with d >= 1, got shape {S.shape}")
        scale = max(float(np.max(np.abs(S))), np.finfo(float).tiny)
        asym = float(np.max(np.abs(S - S.T)))
        if asym > TARGET_RTOL * scale:
            raise ValueError(f"{name} must be symmetric, but |S - S^T| reaches {asym:.3g} (largest entry {scale:.3g})")
        S = 0.5 * (S + S.T)
        lam, Om = np.linalg.eigh(S)
        if lam[0] < -TARGET_RTOL * max(abs(lam[-1]), np.finfo(float).tiny):
            raise ValueError(f"{name} must be positive semidefinite, but has eigenvalue {lam[0]:.3g}")
        return cls._from_eigh(np.clip(lam, 0.0, None), Om, S)

    @classmethod
    def from_spectrum(cls, eigenvalues, eigenvectors=None, *, seed: int = 0) -> Target:
        """Sigma_0 = Omega diag(eigenvalues) Omega^T.

        Parameters
        ----------
        eigenvalues : (d,) array_like
            Finite, >= 0 (any order).
        eigenvectors : (d, d) array_like, optional
            Orthogonal Omega; default a Haar-random one drawn from ``seed``.
        seed : int

        Returns
        -------
        Target
        """
        lam = float_array(eigenvalues, "eigenvalues", np.float64, ndim=1)
        if lam.size < 1 or np.any(lam < 0):
            raise ValueError("eigenvalues must be a non-empty array of values >= 0")
        d = lam.size
        if eigenvectors is None:
            Om = random_orthogonal(d, np.random.default_rng(integer(seed, "seed", minimum=0)))
        else:
            Om = float_array(eigenvectors, "eigenvectors", np.float64, shape=(d, d))
            if np.max(np.abs(Om.T @ Om - np.eye(d))) > 1e-10:
                raise ValueError("eigenvectors must be an orthogonal matrix (Omega^T Omega = I to 1e-10)")
        return cls.from_covariance((Om * lam) @ Om.T, name="the covariance of eigenvalues and eigenvectors")

    @classmethod
    def zipf(cls, dim: int, *, seed: int = 0, floor: float | None = None) -> Target:
        """The "zipf" spectrum of Brechet et al.'s code: s_1 / i + N(0, 1) noise, sorted, shifted to min 1/d.

        s_1 is the largest singular value of a d x d standard Gaussian matrix; the eigenvectors are its left
        singular vectors. ``floor`` (their ``smin``), when given, lifts the whole spectrum so that its smallest
        value is ``floor + 1/d``.

        Returns
        -------
        Target
        """
        d = integer(dim, "dim", minimum=1)
        rng = np.random.default_rng(integer(seed, "seed", minimum=0))
        U, s, _ = np.linalg.svd(rng.standard_normal((d, d)))
        lam = np.sort(s[0] / np.arange(1, d + 1) + rng.standard_normal(d))[::-1]
        lam = lam - lam.min() + 1.0 / d
        if floor is not None and lam.min() < nonnegative_float(floor, "floor"):
            lam = lam + floor - lam[-1] + 1.0 / d
        return cls.from_spectrum(lam, U)

    @classmethod
    def _from_eigh(cls, lam, Om, S) -> Target:
        order = np.argsort(lam, kind="stable")[::-1]
        lam, Om = lam[order], Om[:, order]
        root = (Om * np.sqrt(lam)) @ Om.T
        root = 0.5 * (root + root.T)
        return cls(covariance=S, eigenvalues=lam, eigenvectors=Om, root=root)


def as_target(target, name: str = "target") -> Target:
    """A :class:`Target`, or a covariance matrix checked into one."""
    return target if isinstance(target, Target) else Target.from_covariance(target, name)


def random_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random d x d orthogonal matrix (QR of a Gaussian matrix with the signs of R's diagonal fixed)."""
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)
