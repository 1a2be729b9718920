"""Hessian spectra of any model: extreme eigenpairs, the trace with an error bar, the spectral density.

Every routine takes a :class:`HessianOperator`, the Hessian as Hessian-vector products, from

* :func:`from_mlp` -- an optcore :class:`~optcore.nn.MLP` (exact products in C++, blocks of vectors batched);
  with R parameter rows a :class:`HessianBatch` of R networks, whose spectra are computed together (one C++ call
  per round for all networks) and returned one per network;
* :func:`from_torch` -- any PyTorch model, loss and data (tensors or a DataLoader, accumulated over batches;
  ``torch.func``; PyTorch is imported only here);
* :func:`from_callable` -- a user function v -> H v.

and gives

* :func:`eigenpairs` -- the k largest or smallest (algebraic) eigenvalues with unit eigenvectors, or the k largest in
  magnitude (Lanczos, scipy ``eigsh``); :func:`sharpness` -- lambda_max;
* :func:`trace` -- Hutch++ or Hutchinson with a Student t confidence interval and a stopping rule on its width;
* :func:`density` -- stochastic Lanczos quadrature (full reorthogonalization) with Gaussian broadening, its moments
  with standard errors, and a plot;
* ``op.dense()`` -- the dense Hessian when P is small.

Each result reports the Hessian-vector products it used (``n_hvp``). Products are checked: a non-finite value, a
wrong shape or an operator that fails the symmetry probe raises ``ValueError``. See docs/spectrum.md.
"""

from __future__ import annotations

from .batch import HessianBatch
from .density import Lanczos, SpectralDensity, density, lanczos
from .eigen import Eigenpairs, eigenpairs, sharpness
from .operator import DENSE_LIMIT, HessianOperator, from_callable, from_mlp
from .trace import TraceEstimate, trace


def from_torch(model, loss_fn, data, *, reduction: str = "mean", vectorize: bool = True, symmetry_rtol=None, seed=0):
    """The Hessian of a PyTorch model's loss over data (see :func:`optcore.spectrum._torch.from_torch`)."""
    from ._torch import from_torch as _from_torch

    return _from_torch(
        model, loss_fn, data, reduction=reduction, vectorize=vectorize, symmetry_rtol=symmetry_rtol, seed=seed
    )


def mlp_to_torch(mlp, params):
    """An optcore MLP as a float64 PyTorch model and loss (see :func:`optcore.spectrum._torch.mlp_to_torch`)."""
    from ._torch import mlp_to_torch as _mlp_to_torch

    return _mlp_to_torch(mlp, params)


__all__ = [
    "DENSE_LIMIT",
    "Eigenpairs",
    "HessianBatch",
    "HessianOperator",
    "Lanczos",
    "SpectralDensity",
    "TraceEstimate",
    "density",
    "eigenpairs",
    "from_callable",
    "from_mlp",
    "from_torch",
    "lanczos",
    "mlp_to_torch",
    "sharpness",
    "trace",
]
