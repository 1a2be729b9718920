"""Seeds and stream ids: how user seeds become the Philox keys and run ids of the engine.

A run's randomness is named by two numbers: its *key* (a 64-bit seed) and its *run id* (a 32-bit stream number).
``seed`` may be an int (all runs share the key, run ids 0..R-1 tell them apart), a sequence of R ints (one key per
run), a ``numpy.random.Generator`` (one key drawn from it) or None (a fresh key from the OS, recorded in the
result's metadata so the call can be replayed).
"""

from __future__ import annotations

import numbers

import numpy as np

_U64 = 2**64
_U32 = 2**32


def resolve_keys(seed, runs: int) -> np.ndarray:
    """Return the (runs,) uint64 Philox keys for ``seed``."""
    if seed is None:
        key = int(np.random.SeedSequence().entropy) % _U64
        return np.full(runs, key, dtype=np.uint64)
    if isinstance(seed, np.random.Generator):
        key = int(seed.integers(0, _U64, dtype=np.uint64))
        return np.full(runs, key, dtype=np.uint64)
    if isinstance(seed, bool):
        raise TypeError("seed must be an int, a sequence of ints, a numpy Generator or None, got bool")
    if isinstance(seed, numbers.Integral | np.integer):
        seed = int(seed)
        if not 0 <= seed < _U64:
            raise ValueError(f"seed must be in [0, 2**64), got {seed}")
        return np.full(runs, seed, dtype=np.uint64)
    arr = np.asarray(seed)
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise TypeError(
            f"seed must be an int, a 1-D sequence of ints, a numpy Generator or None, got {type(seed).__name__}"
        )
    if arr.shape[0] != runs:
        raise ValueError(f"seed has {arr.shape[0]} entries but there are {runs} runs")
    if arr.size and (arr.min() < 0 or int(arr.max()) >= _U64):
        raise ValueError("seed entries must be in [0, 2**64)")
    return arr.astype(np.uint64)


def resolve_run_ids(run_ids, runs: int) -> np.ndarray:
    """Return the (runs,) uint32 stream ids: ``run_ids`` or 0..runs-1."""
    if run_ids is None:
        if runs > _U32:
            raise ValueError(f"at most 2**32 runs per key, got {runs}")
        return np.arange(runs, dtype=np.uint32)
    arr = np.asarray(run_ids)
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise TypeError(f"run_ids must be a 1-D integer array, got {arr.dtype} with shape {arr.shape}")
    if arr.shape[0] != runs:
        raise ValueError(f"run_ids has {arr.shape[0]} entries but there are {runs} runs")
    if arr.size and (arr.min() < 0 or int(arr.max()) >= _U32):
        raise ValueError("run_ids entries must be in [0, 2**32)")
    return arr.astype(np.uint32)
