"""A content hash of a problem, so that a result's metadata names the exact data it was computed from."""

from __future__ import annotations

import hashlib

import numpy as np


def problem_fingerprint(problem) -> str:
    """SHA-256 (hex) of the problem's kind, dtype, sizes and every entry of the data the engine reads.

    Arrays enter with their dtype, shape and bytes (C order), scalars with their repr, entries in sorted key
    order; two problems with the same fingerprint give the engine identical inputs.
    """
    h = hashlib.sha256()
    h.update(f"{problem.kind}|{problem.dtype}|n={problem.n}|dim={problem.dim}".encode())
    for key, value in sorted(problem._data().items()):
        h.update(f"|{key}=".encode())
        if isinstance(value, np.ndarray):
            h.update(f"{value.dtype.str}{value.shape}".encode())
            h.update(np.ascontiguousarray(value).tobytes())
        elif callable(value):
            h.update(f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}".encode())
        else:
            h.update(repr(value).encode())
    return h.hexdigest()
