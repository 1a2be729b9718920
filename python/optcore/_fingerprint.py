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
    for key, value in sorted(_engine_inputs(problem).items()):
        h.update(f"|{key}=".encode())
        if isinstance(value, np.ndarray):
            h.update(f"{value.dtype.str}{value.shape}".encode())
            h.update(np.ascontiguousarray(value).tobytes())
        elif callable(value):
            h.update(f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}".encode())
        else:
            h.update(repr(value).encode())
    return h.hexdigest()


def _engine_inputs(problem) -> dict:
    """The data a compiled kind hands the engine, or a callback problem's functions and known optimum.

    A problem given by a Python gradient (optcore.UserProblem, or a Problem with batch_gradient) enters by its
    functions' qualified names -- their code and the data they capture cannot be hashed -- and x_star, f_star,
    hessian.
    """
    from ._user_loop import has_kernel

    if has_kernel(problem):
        return problem._data()
    items = {"gradient": getattr(problem, "_gradient", None) or problem.batch_gradient}
    if getattr(problem, "_value", None) is not None:
        items["value"] = problem._value
    for name in ("x_star", "f_star", "hessian"):
        value = getattr(problem, name, None)
        if value is not None:
            items[name] = np.asarray(value, dtype=np.float64)
    return items
