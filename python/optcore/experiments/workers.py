"""What runs in a sweep's worker processes: their setup (threads, dying with the parent) and the cell itself.

Threads. A sweep with ``workers=N`` runs N cells at once; if each cell also started one engine thread per core,
N processes would fight over the cores (with 2 workers on 2 cores that was slower than serial). Every worker
therefore starts with :data:`THREAD_ENV` set to ``threads_per_worker`` (default 1): ``OPTCORE_NUM_THREADS`` for
optcore's engine and the usual variables for OpenMP, OpenBLAS and MKL in libraries loaded later (torch, say);
the BLAS and OpenMP libraries already loaded (numpy's OpenBLAS) are lowered to that count through threadpoolctl.

Dying with the parent. A worker must not outlive the process that runs the sweep (``kill -9`` of ``optcore run``
included): on Linux the kernel sends it SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``), and on every
platform a watchdog thread waits on the parent's sentinel (a pipe that closes when the parent dies) and exits.
Once the workers are gone, multiprocessing's resource tracker -- whose pipe they held open -- exits as well.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time

#: environment variables every worker sets to its thread count (read by optcore's engine and by BLAS/OpenMP)
THREAD_ENV = ("OPTCORE_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class WorkerImportError(ImportError):
    """A worker could not import the module that defines an experiment's ``run`` function."""


def init_worker(parent_pid: int, threads: int) -> None:
    """The initializer of every worker process: die with the parent, use ``threads`` threads."""
    _die_with_parent(parent_pid)
    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    _limit_loaded_libraries(threads)


def _limit_loaded_libraries(threads: int) -> None:
    """Lower (never raise) the thread pools of BLAS/OpenMP libraries already loaded, through threadpoolctl.

    Never raise: optcore's own OpenBLAS runs single-threaded on purpose (a run's bits must not depend on the
    thread count, see optcore._blas), and a larger ``threads`` must not change that.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn, an optcore dependency
        return
    for library in ThreadpoolController().lib_controllers:
        if library.num_threads > threads:
            library.set_num_threads(threads)


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)
    parent = multiprocessing.parent_process()
    sentinel = getattr(parent, "sentinel", None)
    watchdog = threading.Thread(target=_watch_parent, args=(parent_pid, sentinel), name="optcore-parent", daemon=True)
    watchdog.start()


def _watch_parent(parent_pid: int, sentinel) -> None:
    if sentinel is not None:
        multiprocessing.connection.wait([sentinel])  # returns when the parent's end of the pipe closes
    else:  # pragma: no cover - every start method of multiprocessing provides the sentinel
        while os.getppid() == parent_pid:
            time.sleep(0.5)
    os._exit(1)


def run_cell(run, config: dict, seed: int):
    """One cell: ``run(config, seed)``, its result made plain (Python scalars only), and its time."""
    from .sweep import _plain

    start = time.perf_counter()
    result = run(dict(config), seed)
    return _plain(result), time.perf_counter() - start


def run_cell_by_name(experiment: str, module: str, qualname: str, config: dict, seed: int):
    """:func:`run_cell` for a ``run`` function named by module and qualified name, imported here (in the worker).

    Raises
    ------
    WorkerImportError
        The module (or the function in it) cannot be found here; the message names the host, the module and
        what to do.
    """
    try:
        run = importlib.import_module(module)
        for part in qualname.split("."):
            run = getattr(run, part)
    except Exception as exc:
        raise WorkerImportError(
            f"a worker ({socket.gethostname()}, pid {os.getpid()}) cannot import {module}.{qualname}, the run "
            f"function of experiment {experiment!r}: {type(exc).__name__}: {exc}. Every worker must be able to "
            f"import that module: install it there (pip install ...), or put its folder on the workers' "
            f"PYTHONPATH (local worker processes inherit this process's sys.path; Dask workers do not)"
        ) from None
    return run_cell(run, config, seed)
