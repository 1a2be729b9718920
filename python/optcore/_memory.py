"""Refusing result arrays that cannot fit, before allocating them.

Without this check an impossible request (a record per epoch of 2**32 - 1 epochs, 10**4 runs x 10**6 epochs)
ends in NumPy's ``MemoryError``, which names only an array shape -- or, under overcommit, in the kernel killing the
process later. The check compares the bytes a call will allocate with the memory this process can have and names
the arguments that set the size.
"""

from __future__ import annotations

import functools
import os

GIB = 2.0**30

#: Requests below this are not checked (every machine that runs optcore has that much; saves the look-ups).
SMALL = 64 << 20


@functools.lru_cache(maxsize=1)
def _cgroup_limit() -> int | None:
    """The memory limit of this process's cgroup (containers), if one is set."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**62:
            return int(text)
    return None


@functools.lru_cache(maxsize=1)
def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def memory_limit() -> int | None:
    """Bytes this process can allocate at most: physical memory, a cgroup limit and ``RLIMIT_AS``, the smallest."""
    limits = []
    if _physical_memory() is not None:
        limits.append(_physical_memory())
    cgroup = _cgroup_limit()
    if cgroup is not None:
        limits.append(cgroup)
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, ValueError, OSError):
        pass
    return min(limits) if limits else None


def check_fits(nbytes: int, what: str, hint: str) -> None:
    """Raise ``ValueError`` when ``nbytes`` exceed :func:`memory_limit`.

    ``what`` says which call asked for what, naming its arguments (``"run_sgd(runs=..., epochs=...) records ..."``);
    ``hint`` says which argument to change.
    """
    if nbytes < SMALL:
        return
    limit = memory_limit()
    if limit is not None and nbytes > limit:
        raise ValueError(
            f"{what} needs {nbytes / GIB:.3g} GiB, more than the {limit / GIB:.3g} GiB of memory this process can "
            f"have; {hint}"
        )
