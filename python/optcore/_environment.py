"""optcore's environment variables, read on every call as ``os.environ.get`` reads them, at a fraction of its cost.

``os.environ.get(name)`` goes through four Python-level calls that encode the name and decode the value (about a
microsecond, a visible part of a short ``run_sgd`` or ``MLP.loss_and_grad`` call). On POSIX, ``os.environ`` keeps
its entries in a dict of bytes (``os.environ._data``) that all its reads and writes go through (``monkeypatch.setenv``,
``mock.patch.dict``, ``os.environ[...] = ...``); :func:`reader` looks the encoded name up there directly, and falls
back to ``os.environ.get`` wherever that layout is not what it expects (another OS or Python, or ``os.environ``
replaced by another object).
"""

from __future__ import annotations

import os
from collections.abc import Callable

_ENVIRON = os.environ
_DATA = getattr(_ENVIRON, "_data", None)
_DIRECT = os.name == "posix" and type(_ENVIRON) is os._Environ and isinstance(_DATA, dict)


def reader(name: str, default: str | None = None) -> Callable[[], str | None]:
    """A function that returns ``os.environ.get(name, default)``, whatever the environment is when it is called."""
    if not _DIRECT:
        return lambda: os.environ.get(name, default)
    key, data, environ = os.fsencode(name), _DATA, _ENVIRON

    def read() -> str | None:
        if os.environ is not environ:  # replaced (tests): its own get
            return os.environ.get(name, default)
        value = data.get(key)
        return default if value is None else os.fsdecode(value)

    return read
