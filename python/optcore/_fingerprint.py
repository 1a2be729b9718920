"""A content hash of a problem, so that a result's metadata names the exact data it was computed from."""

from __future__ import annotations

import hashlib

import numpy as np


def problem_fingerprint(problem) -> str:
    """SHA-256 (hex) of the problem's kind, dtype, sizes and every entry of the data the engine reads.

    Arrays enter with their dtype, shape and bytes (C order), scalars with their repr, entries in sorted key
    order; two problems with the same fingerprint give the engine identical inputs.

    The digest is computed once per problem and kept on it (hashing the data on every ``run_sgd`` call cost more
    than a short run itself). It is recomputed whenever one of the engine's inputs is a different object or a
    different scalar -- assigning a new array to an attribute, a copy or an unpickled problem -- but not when an
    array is changed in place: a problem's data are fixed at construction (its x_star, f_star, L and mu were
    computed from them too), so change the data by building a new problem.
    """
    inputs = _engine_inputs(problem)
    key = _identity_key(problem, inputs)
    cached = getattr(problem, "_sha256_cache", None)
    if cached is not None and _same_key(cached[0], key):
        return cached[1]
    h = hashlib.sha256()
    h.update(f"{problem.kind}|{problem.dtype}|n={problem.n}|dim={problem.dim}".encode())
    for k, value in sorted(inputs.items()):
        h.update(f"|{k}=".encode())
        if isinstance(value, np.ndarray):
            h.update(f"{value.dtype.str}{value.shape}".encode())
            h.update(np.ascontiguousarray(value).tobytes())
        elif callable(value):
            h.update(f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}".encode())
        else:
            h.update(repr(value).encode())
    digest = h.hexdigest()
    try:
        problem._sha256_cache = (key, digest)
    except AttributeError:  # a problem class with __slots__: no cache, the digest is recomputed each time
        pass
    return digest


def _identity_key(problem, inputs: dict) -> tuple:
    """What the cached digest is valid for: the problem's sizes, its arrays and functions as objects (kept alive by
    the key, so their ids cannot be reused), and the repr of every other entry."""
    return (problem.kind, problem.dtype, problem.n, problem.dim,
            *((k, v if isinstance(v, np.ndarray) or callable(v) else repr(v)) for k, v in sorted(inputs.items())))


def _same_key(a: tuple, b: tuple) -> bool:
    if len(a) != len(b) or a[:4] != b[:4]:
        return False
    pairs = zip(a[4:], b[4:], strict=True)
    return all(ka == kb and (va is vb or (isinstance(va, str) and va == vb)) for (ka, va), (kb, vb) in pairs)


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
