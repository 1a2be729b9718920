"""The sweep runner: an experiment over a grid of configurations times seeds, through any Executor, resumably.

Cells are (configuration, replicate) pairs in a fixed order: configurations in the order of the grid (the
parameters in their declared order, the last one varying fastest), replicates 0..S-1 within each. The table lists
them in that order whatever order they finish in.

Seeds. A cell's seed is the first 8 bytes of the SHA-256 of the canonical JSON of
``{"base_seed": b, "config": config, "replicate": r}``, read big-endian and shifted right by one bit (so it fits
an int64 column). It depends on the configuration and not on the cell's position in the grid, so growing a grid
keeps the seeds -- and the cached results -- of the cells already there, and no two configurations share a seed.

Checks first. Every value is checked against its parameter's domain and every configuration against the
experiment's ``validate`` hook before any cell runs, and a sweep of more than ``max_cells`` cells is refused
before any of them is built.

Executors. In-process by default; ``workers=N`` runs N local processes (started with the ``spawn`` method on every
platform: no fork of a process that may hold threads; each with ``threads_per_worker`` threads and dying with this
process, see :mod:`.workers`); ``dask=ADDRESS`` (or a ``distributed.Client``) uses that Dask cluster's executor;
``executor=`` takes any :class:`concurrent.futures.Executor`. Each cell's result is written to the cache as soon as
it arrives, so an interrupted sweep loses at most the cells in flight.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import multiprocessing
import numbers
import os
import platform
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from .. import __version__
from .cache import Cache, canonical_json, cell_key
from .registry import RESERVED, Experiment, get
from .reporting import reporter
from .results import ResultTable
from .workers import WorkerImportError, init_worker, run_cell, run_cell_by_name

#: the most cells run_sweep builds unless told otherwise (each costs memory before anything runs)
MAX_CELLS = 100_000


class _InlineExecutor(Executor):
    """Runs each task when it is submitted, in the calling thread (the default, in-process backend)."""

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


def expand_grid(experiment: str | Experiment, grid: dict | None = None) -> list[dict]:
    """The configurations of a grid: every combination of the parameters' values, defaults filling the rest.

    Parameters
    ----------
    experiment : str or Experiment
        The experiment (or its registered name).
    grid : dict, optional
        ``{parameter: value or list of values}``. Parameters left out take their defaults (a tuple default is a
        grid axis).

    Returns
    -------
    list of dict
        One dict per configuration, with a value for every parameter.

    Raises
    ------
    ValueError
        An unknown parameter (the message lists the valid ones), an empty list of values, or a value outside
        the declared choices.
    TypeError
        A value of the wrong type.
    """
    experiment = get(experiment)
    axes = _axes(experiment, grid)
    names = [p.name for p in experiment.params]
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*axes)]


def _axes(experiment: Experiment, grid: dict | None) -> list[list]:
    """The checked values of every parameter, in declared order."""
    grid = {} if grid is None else dict(grid)
    for name in grid:
        experiment.param(name)  # raises, listing the valid parameters
    return [p.coerce(grid[p.name] if p.name in grid else p.default) for p in experiment.params]


def check_sweep(
    experiment: str | Experiment, grid: dict | None = None, *, seeds: int | None = None, max_cells: int = MAX_CELLS
) -> list[dict]:
    """Check a sweep before it runs: its size, every value's domain and every configuration; return the configs.

    Parameters
    ----------
    experiment : str or Experiment
        The experiment (or its registered name).
    grid : dict, optional
        ``{parameter: value or list of values}``; see :func:`expand_grid`.
    seeds : int, optional
        Replicates per configuration (default: the experiment's ``seeds``).
    max_cells : int
        The most cells (configurations times seeds) allowed; see :func:`run_sweep`.

    Returns
    -------
    list of dict
        The configurations (see :func:`expand_grid`).

    Raises
    ------
    ValueError
        Too many cells, a value outside its parameter's domain, or a configuration the experiment's
        ``validate`` hook rejects; the message names the argument or parameter.
    TypeError
        A value of the wrong type.
    """
    experiment = get(experiment)
    seeds = experiment.seeds if seeds is None else _positive_int(seeds, "seeds")
    max_cells = _positive_int(max_cells, "max_cells")
    axes = _axes(experiment, grid)
    n_configs = math.prod(len(axis) for axis in axes)
    if n_configs * seeds > max_cells:
        raise ValueError(
            f"the sweep has {n_configs * seeds} cells ({n_configs} configurations x {seeds} seeds), more than the "
            f"limit max_cells={max_cells}: every cell is set up before any runs. Use fewer seeds or grid values, or "
            f"raise the limit: run_sweep(..., max_cells=N), or --max-cells N on the command line"
        )
    configs = expand_grid(experiment, grid)
    for config in configs:
        experiment.check_config(config)
    return configs


def cell_seed(*, base_seed: int, config: dict, replicate: int) -> int:
    """The seed of one cell (see the module docstring): a 63-bit int from the base seed, config and replicate."""
    text = canonical_json({"base_seed": int(base_seed), "config": config, "replicate": int(replicate)})
    return int.from_bytes(hashlib.sha256(text.encode("ascii")).digest()[:8], "big") >> 1


def code_version(experiment: Experiment) -> str:
    """The code version: optcore's version plus the experiment's version (part of every cache key)."""
    return f"optcore {__version__}; {experiment.name} {experiment.version}"


def run_sweep(
    experiment: str | Experiment,
    grid: dict | None = None,
    *,
    seeds: int | None = None,
    base_seed: int = 0,
    workers: int | None = None,
    dask=None,
    executor: Executor | None = None,
    threads_per_worker: int = 1,
    cache=None,
    progress: bool = False,
    max_cells: int = MAX_CELLS,
) -> ResultTable:
    """Run an experiment on every configuration of a grid with several seeds each, and tabulate the results.

    Parameters
    ----------
    experiment : str or Experiment
        A registered experiment's name, or the experiment itself.
    grid : dict, optional
        ``{parameter: value or list of values}``; see :func:`expand_grid`.
    seeds : int, optional
        Replicates per configuration (default: the experiment's ``seeds``).
    base_seed : int
        The seed from which every cell's seed is derived.
    workers : int, optional
        Run cells in this many local processes (``None`` or 1: in this process).
    dask : str or distributed.Client, optional
        A Dask scheduler address (a client is opened and closed here) or a client: run cells on that cluster.
    executor : concurrent.futures.Executor, optional
        Run cells through this executor (it is not shut down here).
    threads_per_worker : int
        With ``workers=N``: the threads each worker process may use (engine, BLAS, OpenMP); default 1, so that
        N workers use N cores (see :mod:`optcore.experiments.workers`).
    cache : str, os.PathLike or Cache, optional
        Cache directory: cells found there are not recomputed, and every computed cell is written there as soon
        as it finishes. ``None``: no cache.
    progress : bool
        Report progress on stderr: on a terminal a bar (once the sweep has run a second; cells that report their
        own progress through :func:`~optcore.experiments.progress` add a bar when they run in this process),
        otherwise one line per finished cell.
    max_cells : int
        Refuse (``ValueError``, before anything is built) a sweep of more cells than this (default 100000).

    Returns
    -------
    ResultTable
        The tidy table, one row per (configuration, seed) (or per row an experiment returns), in grid order, and
        metadata; ``result.cache_stats`` says how many cells were cached, computed, or found corrupt.
    """
    experiment = get(experiment)
    seeds = experiment.seeds if seeds is None else _positive_int(seeds, "seeds")
    configs = check_sweep(experiment, grid, seeds=seeds, max_cells=max_cells)
    base_seed = _nonnegative_int(base_seed, "base_seed")
    if sum(x is not None for x in (executor, dask)) + (workers not in (None, 1)) > 1:
        raise ValueError("give at most one of workers=, dask= and executor=")
    if workers is not None:
        workers = _positive_int(workers, "workers")
    threads_per_worker = _positive_int(threads_per_worker, "threads_per_worker")
    if cache is not None and not isinstance(cache, Cache):
        cache = Cache(cache)

    version = code_version(experiment)
    cells = []  # (config, replicate, seed, key)
    for config in configs:
        for replicate in range(seeds):
            seed = cell_seed(base_seed=base_seed, config=config, replicate=replicate)
            key = cell_key(experiment=experiment.name, config=config, seed=seed, code_version=version)
            cells.append((config, replicate, seed, key))

    started, start = datetime.now(timezone.utc), time.perf_counter()
    results: list = [None] * len(cells)
    stats = {"hits": 0, "misses": 0, "corrupt": 0, "computed": 0}
    todo = []
    for index, (_, _, _, key) in enumerate(cells):
        if cache is None:
            todo.append(index)
            continue
        found = cache.lookup(key)
        if found.status == "hit":
            results[index] = found.result
            stats["hits"] += 1
        else:
            stats["misses"] += 1
            stats["corrupt"] += found.status == "corrupt"
            todo.append(index)

    with _Backend(workers=workers, dask=dask, executor=executor, threads_per_worker=threads_per_worker) as backend:
        initial = len(cells) - len(todo)
        inline = backend.name == "serial"
        with reporter(experiment.name, total=len(cells), initial=initial, enabled=progress, inline=inline) as report:
            for index, result, elapsed in backend.map_cells(experiment, cells, todo):
                results[index] = result
                stats["computed"] += 1
                if cache is not None:
                    cache.store(cells[index][3], result, elapsed_s=elapsed)
                report.cell_done(cells[index][0], cells[index][1], elapsed)
        backend_name, n_workers, threads = backend.name, backend.workers, backend.threads

    table = _tabulate(experiment, cells, results)
    meta = {
        "experiment": experiment.name,
        "experiment_version": experiment.version,
        "summary": experiment.summary,
        "optcore_version": __version__,
        "code_version": version,
        "grid": {p.name: list(dict.fromkeys(c[p.name] for c in configs)) for p in experiment.params},
        "configs": len(configs),
        "seeds": seeds,
        "base_seed": base_seed,
        "seed_rule": "seed = sha256(canonical_json({base_seed, config, replicate}))[:8] big-endian >> 1",
        "cells": len(cells),
        "started": started.isoformat(timespec="seconds"),
        "elapsed_s": round(time.perf_counter() - start, 6),
        "backend": backend_name,
        "workers": n_workers,
        "threads": threads,
        "threads_per_worker": threads_per_worker if backend_name == "processes" else None,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cache": {"dir": None if cache is None else str(cache.root), **stats},
    }
    return ResultTable(table=table, meta=meta)


def _plain(result):
    """Check an experiment's result (a dict of scalars or a list of them) and convert numpy scalars."""
    if isinstance(result, dict):
        return {str(k): _scalar(k, v) for k, v in result.items()}
    if isinstance(result, list) and result and all(isinstance(row, dict) for row in result):
        return [_plain(row) for row in result]
    raise TypeError(f"an experiment must return a dict of scalars or a non-empty list of them, got {result!r:.200}")


def _scalar(name, value):
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"experiment output {name!r} must be a scalar (number, bool, str or None), got {value!r:.200}")


def _tabulate(experiment: Experiment, cells: list, results: list) -> pd.DataFrame:
    names = [p.name for p in experiment.params]
    records = []
    for (config, replicate, seed, _), result in zip(cells, results, strict=True):
        for row in result if isinstance(result, list) else [result]:
            clash = (set(row) & set(names)) | (set(row) & RESERVED)
            if clash:
                raise ValueError(
                    f"experiment {experiment.name!r} returned outputs named like its parameters or the sweep's "
                    f"columns: {sorted(clash)}"
                )
            records.append({**config, "replicate": replicate, "seed": seed, **row})
    return pd.DataFrame.from_records(records)


class _Backend:
    """Chooses, owns and closes the executor; yields results as cells finish."""

    def __init__(self, *, workers, dask, executor, threads_per_worker=1):
        self._owned: list = []
        self._client = None
        if executor is not None:
            if not isinstance(executor, Executor):
                raise TypeError(f"executor must be a concurrent.futures.Executor, got {type(executor).__name__}")
            self.executor, self.name = executor, f"executor:{type(executor).__name__}"
            self.workers = self.threads = getattr(executor, "_max_workers", None)
            self.window = None
        elif dask is not None:
            client = _dask_client(dask)
            if client is not dask:
                self._client = client
            self.executor = client.get_executor()
            self._owned.append(self.executor)
            nthreads = client.nthreads()
            self.name, self.workers, self.threads = "dask", len(nthreads), int(sum(nthreads.values()))
            self.window = 2 * max(self.threads, 1)
        elif workers not in (None, 1):
            context = multiprocessing.get_context("spawn")
            self.executor = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=init_worker,
                initargs=(os.getpid(), threads_per_worker),
            )
            self._owned.append(self.executor)
            self.name, self.workers, self.threads, self.window = "processes", workers, workers, 2 * workers
        else:
            self.executor, self.name, self.workers, self.threads, self.window = _InlineExecutor(), "serial", 1, 1, 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            for executor in self._owned:
                if isinstance(executor, ProcessPoolExecutor):
                    executor.shutdown(wait=True, cancel_futures=True)
                else:
                    executor.shutdown(wait=True)
        finally:
            if self._client is not None:
                self._client.close()

    def map_cells(self, experiment: Experiment, cells: list, todo: list):
        """Yield ``(index, result, elapsed)`` for the cells in ``todo``, in completion order."""
        pending = iter(todo)
        window = self.window or len(todo) or 1
        inflight: dict = {}

        task = self._task(experiment)

        def fill():
            for index in itertools.islice(pending, window - len(inflight)):
                config, _, seed, _ = cells[index]
                inflight[self.executor.submit(*task, config, seed)] = index

        try:
            fill()
            while inflight:
                done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                for future in sorted(done, key=inflight.__getitem__):
                    index = inflight.pop(future)
                    try:
                        result, elapsed = future.result()
                    except WorkerImportError as exc:
                        raise RuntimeError(str(exc)) from exc
                    except Exception as exc:
                        config, replicate, seed, _ = cells[index]
                        hint = _SPAWN_HINT if isinstance(exc, BrokenProcessPool) else ""
                        if self.name == "dask" and isinstance(exc, ImportError):
                            hint = _DASK_HINT
                        raise RuntimeError(
                            f"experiment {experiment.name!r} failed on config {config}, replicate {replicate} "
                            f"(seed {seed}): {type(exc).__name__}: {exc}{hint}"
                        ) from exc
                    yield index, result, elapsed
                fill()
        finally:
            for future in inflight:
                future.cancel()


    def _task(self, experiment: Experiment) -> tuple:
        """What to submit per cell: the run function itself in this process; elsewhere, its module and name.

        Sent by name, the function is imported by the worker inside :func:`run_cell_by_name`, which says which
        module a worker could not import -- instead of an unpickling error deep in the executor.
        """
        run = experiment.run
        module, qualname = getattr(run, "__module__", None), getattr(run, "__qualname__", "")
        if self.name == "serial" or not module or "<" in qualname:
            return (run_cell, run)
        return (run_cell_by_name, experiment.name, module, qualname)


_DASK_HINT = (
    " -- a Dask worker could not import something the cell needs: every worker must have optcore and the module"
    " that defines the experiment installed (or on its PYTHONPATH)"
)

_SPAWN_HINT = (
    " -- worker processes are started with 'spawn': they import the experiment's run function by its module, and"
    " re-import the main script; a script that calls run_sweep(workers=N) needs an `if __name__ == '__main__':`"
    " guard, and code read from stdin cannot be re-imported"
)


def _dask_client(dask):
    if hasattr(dask, "get_executor"):
        return dask
    if not isinstance(dask, str):
        raise TypeError(f"dask must be a scheduler address or a distributed.Client, got {type(dask).__name__}")
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("running on Dask needs dask.distributed: pip install 'optcore[dask]'") from exc
    return Client(dask)


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _nonnegative_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)
