"""The index streams of the orders on the GPU (``orders.cu``): identical, bit for bit, to the CPU core's."""

from __future__ import annotations

import numpy as np

from .._backend import cupy
from ._compile import kernel
from ._launch import BLOCK, grid, i32, i64, null, u32

#: Upper bound on one launch's scratch memory (bytes): (M N + N + M) words per (run, epoch) pair.
SCRATCH_BYTES = 1 << 28


def epoch_orders(spec: dict, arrays: dict, epochs: int, first_epoch: int = 0):
    """The (R, K, M, count) int64 indices of :func:`optcore.orders.epoch_orders`, as a CuPy array.

    Epochs ``first_epoch .. first_epoch + epochs - 1`` (explicit orders: ``first_epoch`` must be 0).

    ``spec`` and ``arrays`` are what :func:`optcore.orders.order_spec` builds (host arrays: they are uploaded).
    """
    cp = cupy()
    M, N, count = spec["workers"], spec["per_worker"], spec["count"]
    seeds = cp.asarray(arrays["seeds"], dtype=cp.uint64)
    run_ids = cp.asarray(arrays["run_ids"], dtype=cp.uint32)
    R = seeds.size
    base = arrays.get("base_order")
    base_d = cp.asarray(base, dtype=cp.uint32) if base is not None else None
    explicit = arrays.get("explicit_orders")
    explicit_d = cp.asarray(np.ascontiguousarray(explicit, dtype=np.int64)) if explicit is not None else None
    out = cp.empty((R, epochs, M, count), dtype=cp.uint32)
    items = R * epochs
    per_launch = int(max(1, min(items, SCRATCH_BYTES // (4 * (M * N + N + M)))))
    work = cp.empty((per_launch, M * N + N + M), dtype=cp.uint32)
    fn = kernel("orders.cu", "optcore_epoch_orders")
    for first in range(0, items, per_launch):
        todo = min(per_launch, items - first)
        fn(
            grid(todo),
            (BLOCK,),
            (
                i32(spec["order"]),
                u32(M),
                u32(N),
                u32(count),
                base_d if base_d is not None else null(),
                explicit_d if explicit_d is not None else null(),
                i64(1 if explicit is None else explicit.shape[0]),
                i64(1 if explicit is None else explicit.shape[1]),
                seeds,
                run_ids,
                i64(R),
                i64(epochs),
                i64(first_epoch),
                i64(first),
                i64(todo),
                work,
                out,
            ),
        )
    return out.astype(cp.int64)
