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
    if type(seed) is int and 0 <= seed < _U64:  # the usual call, without the ABC checks below (per-call cost)
        keys = np.empty(runs, dtype=np.uint64)
        keys.fill(seed)
        return keys
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
    keys = _integer_sequence(
        seed, "seed", runs, bound=_U64,
        expected="an int in [0, 2**64), a 1-D sequence of such ints (one per run), a numpy Generator or None",
        dtype=np.uint64,
    )
    return keys


def _integer_sequence(value, name: str, runs: int, *, bound: int, expected: str, dtype) -> np.ndarray:
    """``value`` as a (runs,) array of ``dtype`` holding ints in [0, bound), lists checked entry by entry.

    Going through Python ints (not ``np.asarray``) accepts every value in range whatever NumPy would infer for the
    sequence -- [2**64 - 1, 5] is an object array to NumPy -- and names the first entry that is not an integer.
    """
    if isinstance(value, str | bytes | dict) or np.ndim(value) != 1:
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} with shape {np.shape(value)}")
    if isinstance(value, np.ndarray) and value.dtype.kind not in "iuO":
        raise TypeError(f"{name} must be {expected}, got an array of dtype {value.dtype}")
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu":  # the fast path for large integer arrays
        if value.size and (int(value.min()) < 0 or int(value.max()) >= bound):
            i = int(np.argmax((value < 0) | (value.astype(object) >= bound)))
            raise ValueError(f"{name}[{i}] must be in [0, 2**{bound.bit_length() - 1}), got {value[i]}")
        if value.shape[0] != runs:
            raise ValueError(f"{name} has {value.shape[0]} entries but there are {runs} runs")
        return value.astype(dtype)
    out = []
    for i, v in enumerate(value):
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Integral | np.integer):
            raise TypeError(f"{name}[{i}] must be an int, got {type(v).__name__} {v!r} ({name} must be {expected})")
        v = int(v)
        if not 0 <= v < bound:
            raise ValueError(f"{name}[{i}] must be in [0, 2**{bound.bit_length() - 1}), got {v}")
        out.append(v)
    if len(out) != runs:
        raise ValueError(f"{name} has {len(out)} entries but there are {runs} runs")
    return np.array(out, dtype=dtype)


def resolve_run_ids(run_ids, runs: int) -> np.ndarray:
    """Return the (runs,) uint32 stream ids: ``run_ids`` or 0..runs-1."""
    if run_ids is None:
        if runs > _U32:
            raise ValueError(f"at most 2**32 runs per key, got {runs}")
        return np.arange(runs, dtype=np.uint32)
    return _integer_sequence(
        run_ids, "run_ids", runs, bound=_U32, expected="a 1-D sequence of ints in [0, 2**32)", dtype=np.uint32
    )
