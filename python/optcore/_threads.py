"""How many threads the C++ loops use: the one place every public ``threads=`` argument is resolved.

Results never depend on the thread count (every run's arithmetic is fixed), so this only trades speed and memory.
"""

from __future__ import annotations

import os

from . import _environment
from ._validation import integer

#: The most threads one call may start (the C++ core's ``optcore::kMaxThreads``). More threads than CPUs never
#: speed the loops up; each one costs a stack, and thousands can exhaust the memory or process limits.
MAX_THREADS = 1024

#: Environment variable that sets the default thread count (e.g. ``OPTCORE_NUM_THREADS=1`` in worker processes
#: that already run one task per CPU).
ENV_VAR = "OPTCORE_NUM_THREADS"
_env_threads = _environment.reader(ENV_VAR, "")  # os.environ.get(ENV_VAR, ""), on every call

_default: int | None = None  # set_default_threads(); None: the environment variable or the usable CPUs


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. under ``taskset``), not all CPUs of the machine."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity API (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """The thread count used where ``threads=None``.

    In order: the value given to :func:`set_default_threads`; the environment variable ``OPTCORE_NUM_THREADS``
    (a positive integer, read at each call); the CPUs this process may use (``os.sched_getaffinity``), at most
    :data:`MAX_THREADS`.

    Raises
    ------
    ValueError
        When ``OPTCORE_NUM_THREADS`` is set but is not an integer in [1, MAX_THREADS].
    """
    if _default is not None:
        return _default
    env = _env_threads().strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            raise ValueError(f"{ENV_VAR} must be a positive integer, got {env!r}") from None
        return integer(value, ENV_VAR, minimum=1, maximum=MAX_THREADS)
    return min(usable_cpus(), MAX_THREADS)


def set_default_threads(threads: int | None) -> int | None:
    """Set the thread count every ``threads=None`` call uses in this process; None restores the default.

    Parameters
    ----------
    threads : int or None
        A positive integer at most :data:`MAX_THREADS`, or None for :func:`default_threads`'s usual rule
        (``OPTCORE_NUM_THREADS``, else the usable CPUs).

    Returns
    -------
    int or None
        The previous setting, so that it can be restored.
    """
    global _default
    previous = _default
    _default = None if threads is None else integer(threads, "threads", minimum=1, maximum=MAX_THREADS)
    return previous


def resolve_threads(threads, work: int | None = None) -> int:
    """``threads`` checked (an int in [1, MAX_THREADS]) or the default, and at most ``work`` (the runs to share).

    Raises ``TypeError`` / ``ValueError`` naming ``threads`` and the limit.
    """
    if threads is None:
        threads = default_threads()
    else:
        try:
            threads = integer(threads, "threads", minimum=1, maximum=MAX_THREADS)
        except ValueError as exc:
            raise ValueError(f"{exc} (threads is a positive integer, at most {MAX_THREADS})") from None
    return threads if work is None else max(1, min(threads, work))
