"""Network passes on the GPU (``nn.cu``), batched over R networks.

Forward, loss and accuracy, gradient, per-example gradients, Hessian-vector products and dense Hessians (P
Hessian-vector products).
"""

from __future__ import annotations

import numpy as np

from .._backend import cupy
from ._compile import kernel
from ._launch import BLOCK, grid, i32, i64, null, suffix

_WHAT = {"forward": 0, "loss": 1, "accuracy": 1, "grad": 2, "per_example": 3, "hvp": 4}


def mlp_eval(data: dict, params, what: str, v=None) -> dict:
    """The GPU counterpart of ``optcore._core.mlp_eval``.

    ``params`` (R, P) and ``v`` are CuPy arrays; ``data`` is the host dict of :meth:`optcore.nn.MLP._data`
    (uploaded here). Returns a dict of CuPy arrays.
    """
    cp = cupy()
    if what == "hessian":
        R, P = params.shape
        # column c of H is H e_c: P Hessian-vector products of each network, as R P "networks" in one launch
        tiled = cp.repeat(params, P, axis=0)
        basis = cp.tile(cp.eye(P, dtype=params.dtype), (R, 1))
        return {"hessian": mlp_eval(data, tiled, "hvp", basis)["hvp"].reshape(R, P, P)}
    dtype = params.dtype
    t = dtype.type
    R, P = params.shape
    widths = np.asarray(data["widths"], dtype=np.int64)
    X, Y = cp.asarray(data["X"]), cp.asarray(data["Y"])
    n, k = X.shape[0], int(widths[-1])
    units, widest = int(widths.sum()), int(widths.max())
    threads = R * n if what == "per_example" else R
    work = cp.empty((threads, 6 * units + 2 * widest), dtype=dtype)
    out_a = out_b = out_c = None
    if what == "forward":
        out_a = cp.empty((R, n, k), dtype=dtype)
    elif what in ("loss", "accuracy", "grad"):
        out_a, out_b = cp.empty(R, dtype=dtype), cp.empty(R, dtype=dtype)
        if what == "grad":
            out_c = cp.empty((R, P), dtype=dtype)
    elif what == "per_example":
        out_a = cp.empty((R, n, P), dtype=dtype)
    elif what == "hvp":
        out_a = cp.empty((R, P), dtype=dtype)
    else:
        raise ValueError(f"unknown evaluation {what!r}")
    fn = kernel("nn.cu", f"optcore_mlp_{suffix(dtype)}")
    fn(
        grid(threads),
        (BLOCK,),
        (
            i32(_WHAT[what]),
            cp.asarray(widths),
            i32(widths.size - 1),
            i32(1 if data["bias"] else 0),
            i32(data["activation"]),
            i32(data["loss"]),
            t(data["s_pos"]),
            t(data["s_neg"]),
            t(data["scale"]),
            X,
            Y,
            i64(n),
            i64(P),
            i64(R),
            i64(units),
            i64(widest),
            params,
            v if v is not None else null(),
            out_a,
            out_b if out_b is not None else null(),
            out_c if out_c is not None else null(),
            work,
        ),
    )
    if what == "forward":
        return {"outputs": out_a}
    if what in ("loss", "accuracy", "grad"):
        out = {"loss": out_a, "accuracy": out_b}
        if what == "grad":
            out["grad"] = out_c
        return out
    if what == "per_example":
        return {"grads": out_a}
    return {"hvp": out_a}
