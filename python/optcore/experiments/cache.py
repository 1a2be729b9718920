"""The on-disk cache of sweep cells: content-addressed, checksummed, written atomically.

Each (experiment, config, seed) result is one file named by the SHA-256 of the canonical JSON of its *key*
``{"experiment", "config", "seed", "code_version"}``, where the code version is optcore's version plus the
experiment's own version string: a new release or a bumped experiment version never reuses old results.

A file is a header line ``optcore-cache 1 sha256=<hex> length=<bytes>`` followed by the payload, the JSON of
``{"key": ..., "result": ..., "elapsed_s": ...}``. A file whose length, checksum, JSON or key does not match is
never used: it is reported with a :class:`CacheCorruptionWarning` and treated as a miss, and the recomputed result
replaces it. Files are written to a temporary file in the same directory and moved into place with
:func:`os.replace`, so that a reader (or a concurrent writer of the same cell) sees either no file or a complete
one, never a partial one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any, NamedTuple

_MAGIC = "optcore-cache 1"
_HEADER = re.compile(rb"optcore-cache 1 sha256=([0-9a-f]{64}) length=([0-9]{1,12})")
SUFFIX = ".cell"


class CacheCorruptionWarning(UserWarning):
    """A cache file was truncated or damaged; it was ignored and its cell recomputed."""


class Lookup(NamedTuple):
    """The outcome of :meth:`Cache.lookup`: ``status`` is ``"hit"``, ``"miss"`` or ``"corrupt"``."""

    status: str
    result: Any = None


def canonical_json(obj) -> str:
    """The canonical JSON text of ``obj``: sorted keys, no spaces, ASCII only (the input to every hash)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def cell_key(*, experiment: str, config: dict, seed: int, code_version: str) -> dict:
    """The key that names a cell's result in the cache."""
    return {"experiment": experiment, "config": config, "seed": int(seed), "code_version": code_version}


def key_digest(key: dict) -> str:
    """The SHA-256 (hex) of the canonical JSON of ``key``."""
    return hashlib.sha256(canonical_json(key).encode("ascii")).hexdigest()


class Cache:
    """A directory of cached cell results.

    Parameters
    ----------
    root : str or os.PathLike
        The directory (created on first write). Results of experiment ``E`` live in ``root/E/<digest>.cell``.
    """

    def __init__(self, root):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    def path(self, key: dict) -> Path:
        """The file that holds (or will hold) the result for ``key``."""
        return self.root / key["experiment"] / (key_digest(key) + SUFFIX)

    def lookup(self, key: dict) -> Lookup:
        """Read the result for ``key``.

        Returns
        -------
        Lookup
            ``("hit", result)``; ``("miss", None)`` when there is no file; ``("corrupt", None)`` when there is a
            file that fails its checks (a :class:`CacheCorruptionWarning` says which and why).
        """
        path = self.path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return Lookup("miss")
        reason, result = _decode(data, key)
        if reason is not None:
            warnings.warn(
                f"cache file {path} is corrupt ({reason}); ignoring it and recomputing the cell",
                CacheCorruptionWarning,
                stacklevel=2,
            )
            return Lookup("corrupt")
        return Lookup("hit", result)

    def store(self, key: dict, result, *, elapsed_s: float | None = None) -> Path:
        """Write the result for ``key`` atomically (temporary file in the same directory, then ``os.replace``)."""
        path = self.path(key)
        # not sort_keys: the order of the result's outputs is the order of the table's columns
        payload = json.dumps({"key": key, "result": result, "elapsed_s": elapsed_s}).encode()
        header = f"{_MAGIC} sha256={hashlib.sha256(payload).hexdigest()} length={len(payload)}\n".encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem[:16]}-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header + payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return path

    def files(self, experiment: str | None = None) -> list[Path]:
        """The cache files present (of one experiment, or of all)."""
        pattern = f"{experiment}/*{SUFFIX}" if experiment else f"*/*{SUFFIX}"
        return sorted(self.root.glob(pattern))


def _decode(data: bytes, key: dict) -> tuple[str | None, Any]:
    """Check and decode a cache file; return (reason it is corrupt or None, result)."""
    newline = data.find(b"\n")
    if newline < 0:
        return "no header line", None
    match = _HEADER.fullmatch(data[:newline])
    if match is None:
        return "bad header", None
    payload = data[newline + 1 :]
    if len(payload) != int(match.group(2)):
        return f"truncated: {len(payload)} of {int(match.group(2))} bytes", None
    if hashlib.sha256(payload).hexdigest() != match.group(1).decode():
        return "checksum mismatch", None
    try:
        content = json.loads(payload)
    except ValueError:
        return "payload is not JSON", None
    if not isinstance(content, dict) or "result" not in content:
        return "payload has no result", None
    if content.get("key") != key:
        return "the file belongs to another cell", None
    return None, content["result"]
