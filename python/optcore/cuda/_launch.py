"""Small helpers shared by the kernel wrappers: launch geometry and typed scalar/pointer arguments."""

from __future__ import annotations

import numpy as np

#: Threads per block of every kernel (one thread per run, (run, epoch) pair, or network).
BLOCK = 128


def grid(threads: int) -> tuple[int]:
    """Blocks for ``threads`` threads of :data:`BLOCK`."""
    return (max(1, -(-int(threads) // BLOCK)),)


def i64(x) -> np.int64:
    """``x`` as a 64-bit signed kernel argument."""
    return np.int64(x)


def u32(x) -> np.uint32:
    """``x`` as a 32-bit unsigned kernel argument."""
    return np.uint32(x)


def i32(x) -> np.int32:
    """``x`` as a 32-bit signed kernel argument."""
    return np.int32(x)


def null():
    """A null pointer argument: CuPy packs a NumPy scalar by its dtype, so a uint64 zero is a pointer-sized 0."""
    return np.uint64(0)


def suffix(dtype) -> str:
    """The kernel-name suffix of a dtype: ``f64`` or ``f32``."""
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return "f64"
    if dtype == np.float32:
        return "f32"
    raise TypeError(f"the CUDA kernels exist for float32 and float64, got {dtype}")
