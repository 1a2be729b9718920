"""Hessian-vector products of any PyTorch model (torch.func), and an optcore MLP rebuilt as a PyTorch model.

Imported only when used (``optcore.spectrum.from_torch``): PyTorch is an optional dependency and ``import optcore``
never imports it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from .operator import HessianOperator

REDUCTIONS = ("mean", "sum")


def _torch():
    try:
        import torch
    except ImportError as err:  # pragma: no cover - exercised only without torch
        raise ImportError("optcore.spectrum.from_torch needs PyTorch: pip install optcore[torch]") from err
    return torch


def from_torch(
    model,
    loss_fn: Callable,
    data,
    *,
    reduction: str = "mean",
    vectorize: bool = True,
    symmetry_rtol: float | None = None,
    seed: int = 0,
) -> HessianOperator:
    """The Hessian of a PyTorch model's loss over a data set, with respect to its trainable parameters.

    The parameter vector is ``torch.nn.utils.parameters_to_vector`` of the parameters with ``requires_grad``, in
    ``model.named_parameters()`` order (for ``nn.Linear`` layers: W row-major, then b, as an optcore MLP). Products
    are forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad``) in the parameters' dtype and device; a
    block of vectors is one ``torch.func.vmap`` call (``vectorize=False`` loops instead, for models vmap cannot
    handle). Products are returned as float64 NumPy arrays.

    Parameters
    ----------
    model : torch.nn.Module
        Evaluated with ``torch.func.functional_call`` (put it in ``eval()`` mode if it has dropout or batch norm).
    loss_fn : callable
        ``loss_fn(model(x), y)`` -> scalar loss of one batch.
    data : (x, y) tensors, or an iterable of (x, y) batches (e.g. a ``torch.utils.data.DataLoader``)
        The whole data set; batches are accumulated, so the Hessian is the full-batch one whatever the batching.
        The iterable is traversed once per product (block of products with ``vectorize``).
    reduction : {"mean", "sum"}
        What ``loss_fn`` does over a batch, and so what the full loss is: ``"mean"`` -- the full loss is the mean
        over all N examples, sum_b n_b loss_b / N; ``"sum"`` -- the sum, sum_b loss_b.
    vectorize : bool
    symmetry_rtol : float or None
        Tolerance of the symmetry probe (default 1e-8 for float64 parameters, 1e-3 for lower precision).
    seed : int

    Returns
    -------
    HessianOperator
    """
    torch = _torch()
    from torch.func import functional_call, grad, jvp, vmap

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS} (what loss_fn does over a batch), got {reduction!r}")
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    if not names:
        raise ValueError("model has no trainable parameters")
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    buffers = {n: b.detach() for n, b in model.named_buffers()}
    first = params[names[0]]
    dtype, device = first.dtype, first.device
    sizes = [params[n].numel() for n in names]
    dim = int(sum(sizes))
    batches = _batches(torch, data)

    def batch_loss(p, x, y):
        return loss_fn(functional_call(model, ({**p}, buffers), (x,)), y)

    def unflatten(v):
        parts = torch.split(v, sizes, dim=-1)
        return {n: part.reshape(*v.shape[:-1], *params[n].shape) for n, part in zip(names, parts, strict=True)}

    def flatten(d, lead=()):
        return torch.cat([d[n].reshape(*lead, -1) for n in names], dim=-1)

    def hvp_one(x, y, vd):
        return jvp(lambda p: grad(batch_loss)(p, x, y), (params,), (vd,))[1]

    def products(V):  # V: (m, P) tensor -> (m, P)
        total, count = torch.zeros_like(V), 0
        for x, y in batches():
            n_b = int(x.shape[0])
            if vectorize:
                out = flatten(vmap(lambda vd: hvp_one(x, y, vd))(unflatten(V)), (V.shape[0],))
            else:
                out = torch.stack([flatten(hvp_one(x, y, unflatten(V[i]))) for i in range(V.shape[0])])
            total += out * (n_b if reduction == "mean" else 1)
            count += n_b
        if count == 0:
            raise ValueError("data holds no examples")
        return total / count if reduction == "mean" else total

    def matmat(V):
        T = torch.as_tensor(np.ascontiguousarray(V.T), dtype=dtype, device=device)
        with warnings.catch_warnings():
            # torch's first forward-mode product loads its jvp decompositions, which call the deprecated
            # torch.jit.script and warn about torch's own code; nothing the caller can act on
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*is deprecated", category=DeprecationWarning)
            return products(T).detach().cpu().double().numpy().T

    if symmetry_rtol is None:
        symmetry_rtol = 1e-8 if dtype == torch.float64 else 1e-3
    return HessianOperator(
        lambda v: matmat(v.reshape(-1, 1))[:, 0], dim, matmat=matmat, symmetry_rtol=symmetry_rtol, seed=seed
    )


def _batches(torch, data):
    """A function returning a fresh iterator of (x, y) batches."""
    if isinstance(data, tuple | list) and len(data) == 2 and all(isinstance(a, torch.Tensor) for a in data):
        x, y = data
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"data: x and y must have the same number of examples, got {x.shape[0]} and {y.shape[0]}")
        return lambda: iter([(x, y)])
    if not hasattr(data, "__iter__") or isinstance(data, torch.Tensor):
        raise TypeError("data must be (x, y) tensors or an iterable of (x, y) batches such as a DataLoader")
    if iter(data) is data:
        raise TypeError("data must be re-iterable (a DataLoader or a list of batches), not a one-shot iterator")

    def gen():
        for batch in data:
            if not (isinstance(batch, tuple | list) and len(batch) == 2):
                raise TypeError("each batch of data must be an (x, y) pair")
            yield batch[0], batch[1]

    return gen


def mlp_to_torch(mlp, params):
    """An optcore MLP and its parameters as a float64 ``torch.nn.Sequential`` and its loss function.

    The same function and the same parameter layout: ``from_torch(model, loss_fn, (X, Y), reduction=mlp.reduction)``
    has the Hessian of ``from_mlp(mlp, params, X, Y)`` (Y as class indices for ``softmax_ce``, (n, d_out) for
    ``squared``, +-1 labels (n,) for ``logistic`` and ``exponential``).

    Parameters
    ----------
    mlp : optcore.nn.MLP
        Unstructured (no masks or ties).
    params : array (P,)

    Returns
    -------
    model : torch.nn.Sequential
    loss_fn : callable
        ``loss_fn(outputs, targets)`` with the network's loss and ``reduction``.
    """
    torch = _torch()
    from torch import nn

    if mlp.structured:
        raise ValueError("mlp_to_torch supports unstructured networks (no masks or ties)")
    theta = np.asarray(params, dtype=np.float64).reshape(mlp.n_params)
    s_pos, s_neg = mlp.slopes
    acts = {
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "softplus": nn.Softplus,
        "hardtanh": nn.Hardtanh,
        "linear": nn.Identity,
        "leaky": lambda: _Leaky(s_pos, s_neg),
    }
    layers = []
    for i, (W, b) in enumerate(mlp.unpack(theta)):
        lin = nn.Linear(W.shape[1], W.shape[0], bias=b is not None, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.copy()))
            if b is not None:
                lin.bias.copy_(torch.from_numpy(b.copy()))
        layers.append(lin)
        if i < len(mlp.shapes) - 1:
            layers.append(acts[mlp.activation]())
    model = nn.Sequential(*layers)
    red = mlp.reduction

    def reduce(per_example):
        return per_example.mean() if red == "mean" else per_example.sum()

    if mlp.loss == "squared":

        def loss_fn(out, y):
            return reduce(0.5 * ((out - y.reshape(out.shape)) ** 2).sum(dim=1))

    elif mlp.loss == "softmax_ce":

        def loss_fn(out, y):
            return torch.nn.functional.cross_entropy(out, y.long(), reduction=red)

    elif mlp.loss == "logistic":

        def loss_fn(out, y):
            return reduce(torch.nn.functional.softplus(-y.reshape(-1) * out[:, 0]))

    else:

        def loss_fn(out, y):
            return reduce(torch.exp(-y.reshape(-1) * out[:, 0]))

    return model, loss_fn


def _leaky_module():
    from torch import nn

    class Leaky(nn.Module):
        """s+ x for x > 0, s- x for x <= 0 (optcore's ``leaky``)."""

        def __init__(self, s_pos, s_neg):
            super().__init__()
            self.s_pos, self.s_neg = s_pos, s_neg

        def forward(self, x):
            return self.s_pos * x.clamp(min=0) + self.s_neg * x.clamp(max=0)

    return Leaky


def _Leaky(s_pos, s_neg):
    return _leaky_module()(s_pos, s_neg)
