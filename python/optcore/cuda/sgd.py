"""The batched SGD engine on the GPU (``sgd.cu``): one thread per run, the CPU engine's loop for each run.

:func:`optcore.run_sgd` validates everything and builds the same dicts it gives the CPU core; :func:`run` uploads
the problem and the per-run arrays, allocates each run's scratch (its orders, M N words; its gradient and temporary,
2 d numbers; M d more in local mode) and launches the kernel of the problem's kind and dtype.
"""

from __future__ import annotations

import numpy as np

from .._backend import cupy
from ._compile import kernel
from ._launch import BLOCK, grid, i32, i64, null, suffix, u32

#: Problem kinds with a GPU kernel, with their OPTCORE_SGD_PROBLEM codes in sgd.cu (networks train on the CPU
#: engine; their passes have GPU kernels in nn.cu).
#: Upper bound on the runs' scratch memory of one launch (bytes); more runs go in several launches.
SCRATCH_BYTES = 1 << 28

KINDS = {"least_squares": 0, "logistic": 1, "exponential": 2, "quadratic": 3, "lower_bound": 4, "huber": 5,
         "squared_hinge": 6, "poisson": 7}
REALS = {"f64": "double", "f32": "float"}


def sgd_kernel(kind: str, dtype):
    """The compiled engine kernel of one problem kind and dtype (compiled on first use, then cached)."""
    return kernel(
        "sgd.cu",
        "optcore_sgd",
        {"OPTCORE_SGD_PROBLEM": str(KINDS[kind]), "OPTCORE_SGD_REAL": REALS[suffix(dtype)]},
    )


def _problem_args(kind: str, data: dict, dtype):
    """(A, b, l2, L, mu, nu, z_mean) for the kernel, arrays on the device, scalars in ``dtype``."""
    cp = cupy()
    t = np.dtype(dtype).type
    zero = t(0)
    if kind in ("least_squares", "logistic", "exponential"):
        labels = data["b"] if kind == "least_squares" else data["y"]
        return cp.asarray(data["A"]), cp.asarray(labels), t(data["l2"]), zero, zero, zero, zero
    if kind == "quadratic":
        return cp.asarray(data["A"]), cp.asarray(data["b"]), zero, zero, zero, zero, zero
    if kind in ("huber", "squared_hinge", "poisson"):  # Huber's delta goes in nu's slot (MakeProblem<T, 5>)
        targets = data["b"] if kind == "huber" else data["y"]
        delta = t(data["delta"]) if kind == "huber" else zero
        return cp.asarray(data["A"]), cp.asarray(targets), t(data["l2"]), zero, zero, delta, zero
    z = np.asarray(data["z"], dtype=dtype)
    z_mean = np.cumsum(z, dtype=dtype)[-1] / t(z.size)  # summed in order, in dtype, as the CPU binding does
    return null(), cp.asarray(z), zero, t(data["L"]), t(data["mu"]), t(data["nu"]), t(z_mean)


def run(kind: str, data: dict, x, run_arrays: dict, spec: dict, rec: dict) -> None:
    """Run all R runs on the device; ``x`` (R, d) and the record arrays in ``rec`` are CuPy arrays, updated in place.

    The arguments mirror ``optcore._core.run_sgd``: ``spec`` holds the order and loop structure, ``run_arrays`` the
    seeds, run ids, step-size table, decay and optional base/explicit orders (host arrays, uploaded here).
    """
    if kind not in KINDS:
        raise ValueError(f"the CUDA engine runs the problems {tuple(KINDS)}, not {kind!r} (train networks on the CPU)")
    cp = cupy()
    dtype = x.dtype
    t = dtype.type
    R, d = x.shape
    M, N = spec["workers"], spec["per_worker"]
    epochs = spec["epochs"]
    count, B = spec["count"], spec["batch_size"]
    steps = -(-count // B)
    record_every = spec["record_every"]
    records = epochs + 1 if record_every == 0 else steps * epochs // record_every + 1
    A, b, l2, L, mu, nu, z_mean = _problem_args(kind, data, dtype)
    n = M * N

    def dev(name, arr_dtype):
        arr = run_arrays.get(name)
        return null() if arr is None else cp.asarray(np.ascontiguousarray(arr, dtype=arr_dtype))

    explicit = run_arrays.get("explicit_orders")

    def rec_dev(name):
        arr = rec.get(name)
        return null() if arr is None else arr

    local = spec["mode"] == 1
    # Each run's scratch (orders, gradient, temporaries, worker copies) lives in global memory; runs go in
    # launches small enough that it stays under SCRATCH_BYTES.
    per_run = 4 * (M * N + N + M) + dtype.itemsize * (2 * d + (M * d if local else 0))
    launch_runs = int(max(1, min(R, SCRATCH_BYTES // per_run)))
    order_buf = cp.empty((launch_runs, M * N), dtype=cp.uint32)
    scratch_buf = cp.empty((launch_runs, N + M), dtype=cp.uint32)
    grad_buf = cp.empty((launch_runs, d), dtype=dtype)
    tmp_buf = cp.empty((launch_runs, d), dtype=dtype)
    worker_buf = cp.empty((launch_runs, M * d), dtype=dtype) if local else None
    fn = sgd_kernel(kind, dtype)
    f_star = rec.get("f_star")
    seeds = cp.asarray(run_arrays["seeds"], dtype=cp.uint64)
    run_ids = cp.asarray(run_arrays["run_ids"], dtype=cp.uint32)
    # the kernel reads a full (R, K) table; the CPU engine also takes the compact (R or 1, K or 1) one
    table = np.broadcast_to(run_arrays["step_table"], (R, int(spec["epochs"])))
    step_table = cp.asarray(np.ascontiguousarray(table, dtype=dtype))
    decay = cp.asarray(np.ascontiguousarray(run_arrays["decay"], dtype=dtype))
    base_order, explicit_orders = dev("base_order", np.uint32), dev("explicit_orders", np.int64)
    for first in range(0, R, launch_runs):
        fn(
            grid(min(launch_runs, R - first)),
            (BLOCK,),
            (
                A,
                b,
                i64(n),
                i64(d),
                l2,
                L,
                mu,
                nu,
                z_mean,
                i32(spec["order"]),
                u32(M),
                u32(N),
                u32(count),
                base_order,
                explicit_orders,
                i64(1 if explicit is None else explicit.shape[0]),
                i64(1 if explicit is None else explicit.shape[1]),
                i64(epochs),
                u32(B),
                i32(1 if local else 0),
                i64(spec["sync_every"]),
                i64(record_every),
                i64(steps),
                i64(records),
                i64(R),
                seeds,
                run_ids,
                x,
                step_table,
                decay,
                rec_dev("x_star"),
                rec_dev("hessian"),
                i32(0 if f_star is None else 1),
                t(0 if f_star is None else f_star),
                rec_dev("gap"),
                rec_dev("dist"),
                rec_dev("objective"),
                rec_dev("iterates"),
                rec["diverged"],
                i64(first),
                i64(launch_runs),
                order_buf,
                scratch_buf,
                grad_buf,
                tmp_buf,
                worker_buf if worker_buf is not None else null(),
            ),
        )
