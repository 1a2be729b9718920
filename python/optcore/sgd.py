"""The engine: R independent SGD runs of one finite-sum problem in one call to the C++ core."""

from __future__ import annotations

import copy
import functools
import hashlib
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import _backend, _call_cache, _core, _environment, _user_loop
from ._fingerprint import problem_fingerprint
from ._memory import SMALL, check_fits
from ._seeds import resolve_keys, resolve_run_ids
from ._threads import resolve_threads
from ._validation import (
    INT64_MAX,
    MAX_EPOCHS,
    MAX_RUNS,
    MAX_WORKERS,
    WHY_EPOCHS,
    WHY_RUNS,
    WHY_WORKERS,
    boolean,
    choice,
    float_array,
    integer,
)
from .orders import canonical_order, order_spec
from .problems import Problem
from .schedules import as_schedule, from_spec, to_spec

RECORDABLE = ("gap", "dist", "objective", "accuracy")
_isa_requested = _environment.reader("OPTCORE_ISA", "auto")  # os.environ.get("OPTCORE_ISA", "auto"), on every call
_DTYPE_NAMES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}  # str(dtype) costs microseconds


class DivergenceWarning(RuntimeWarning):
    """Some runs' iterates stopped being finite (usually: the step size is too large)."""


@dataclass
class SGDResult:
    """What :func:`run_sgd` returns.

    Attributes
    ----------
    x : ndarray (R, d)
        Final iterates (for local SGD, the final average of the workers).
    steps : ndarray (P,)
        Global step index of each of the P record points (0 = the initial point).
    epochs : ndarray (P,)
        The same points in epochs (step / steps per epoch).
    gap, dist, objective : ndarray (R, P) or None
        F(x) - F*, |x - x*| and F(x) at the record points, when recorded. NaN from the record point where a run
        diverged on; never inf.
    accuracy : ndarray (R, P) or None
        Classification accuracy at the record points (network problems).
    iterates : ndarray (R, P, d) or None
        The iterates themselves, with ``record_iterates=True``.
    diverged : ndarray (R,) of bool
        Runs whose iterate or a recorded gap, distance, objective or iterate stopped being finite (an overflow
        counts: the true value is not representable). Their records are NaN from that point on and their ``x`` is
        NaN; a run whose iterate stopped being finite was stopped at the epoch end where this was seen.
    meta : dict
        Everything needed to reproduce the call: order, sizes, seeds (Philox keys), run ids, the step sizes
        (``meta["step_size"]``, as :func:`optcore.schedules.to_spec` writes them: a float, a per-run list or the
        schedule's arguments), ``x0`` (None for the default zeros, else a copy of the (d,) or (R, d) starting
        point(s) as given, in the problem's dtype), what was recorded, ``problem_sha256`` (a SHA-256 of the
        problem's kind, dtype and data arrays, computed on the problem's first run and kept on it: a problem's
        arrays must not be changed in place), dtype, threads, ISA (the compiled copy that ran: "portable", "avx2"
        or "avx512"; all give the same bits), backend, time, optcore version. Explicit orders are kept with the
        result (``order_indices``); ``meta["orders_sha256"]`` names them.
    """

    x: np.ndarray
    steps: np.ndarray
    epochs: np.ndarray
    gap: np.ndarray | None
    dist: np.ndarray | None
    objective: np.ndarray | None
    iterates: np.ndarray | None
    diverged: np.ndarray
    accuracy: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    _explicit_orders: np.ndarray | None = field(default=None, repr=False)

    @property
    def runs(self) -> int:
        """Number of runs R."""
        return self.x.shape[0]

    def to_columns(self) -> dict[str, np.ndarray]:
        """A tidy table as a dict of equal-length columns: one row per (run, record point).

        Columns: ``run`` (index in the call), ``seed`` (the run's Philox key), ``run_id`` (its stream id),
        ``step``, ``epoch``, ``step_size`` (the step size of the step that led to the point -- of the first step
        for the initial point -- as the engine computed it in the problem's dtype) and the recorded quantities.
        """
        R, P = self.runs, self.steps.size
        cols = {
            "run": np.repeat(np.arange(R), P),
            "seed": np.repeat(np.asarray(self.meta["seeds"], dtype=np.uint64), P),
            "run_id": np.repeat(np.asarray(self.meta["run_ids"], dtype=np.uint32), P),
            "step": np.tile(self.steps, R),
            "epoch": np.tile(self.epochs, R),
            "step_size": _step_sizes_at(self.meta, self.steps).reshape(-1),
        }
        for name in RECORDABLE:
            values = _backend.host_copy(getattr(self, name))  # CuPy records (backend="cuda") come to the host
            if values is not None:
                cols[name] = values.reshape(-1)
        return cols

    def to_pandas(self):
        """The tidy table (:meth:`to_columns`) as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.to_columns())

    def call_arguments(self) -> dict:
        """The keyword arguments of :func:`run_sgd` (all but the problem) that reproduce this result bit for bit.

        Built from :attr:`meta` (plus the explicit orders kept with the result):
        ``optcore.run_sgd(problem, **result.call_arguments())`` repeats the call, for the problem whose
        :func:`optcore._fingerprint.problem_fingerprint` is ``meta["problem_sha256"]``.
        """
        m = self.meta
        return {
            "order": m["order"],
            "orders": None if self._explicit_orders is None else self._explicit_orders.copy(),
            "epochs": m["epochs"],
            "step_size": from_spec(m["step_size"]),
            "x0": None if m["x0"] is None else m["x0"].copy(),
            "seed": list(m["seeds"]),
            "run_ids": list(m["run_ids"]),
            "batch_size": m["batch_size"],
            "remainder": m["remainder"],
            "workers": m["workers"],
            "mode": m["mode"],
            "sync_every": m["sync_every"] if m["mode"] == "local" else None,
            "record": tuple(m["record"]),
            "record_every": m["record_every"] or None,
            "record_iterates": m["record_iterates"],
            "base_order": m["base_order"],
            "threads": m["threads"],
            "backend": m["backend"],
        }

    def order_indices(self, run: int) -> np.ndarray:
        """The (epochs, workers, count) indices run ``run`` visited (see :func:`optcore.orders.replay`)."""
        from .orders import replay

        return replay(self, run)


@functools.cache
def _version() -> str:
    from . import __version__  # not at import time: optcore/__init__.py imports this module

    return __version__


def _count_runs(runs, x0, schedule, seed, run_ids) -> int:
    """R from the arguments that fix it; they must agree."""
    candidates = {}
    if runs is not None:
        candidates["runs"] = integer(runs, "runs", minimum=1, maximum=MAX_RUNS, why=WHY_RUNS)
    if x0 is not None and np.ndim(x0) == 2:
        candidates["x0"] = np.shape(x0)[0]
    if schedule.runs is not None:
        candidates["step_size"] = schedule.runs
    if seed is not None and not isinstance(seed, int | np.integer | np.random.Generator) and np.ndim(seed) == 1:
        candidates["seed"] = len(seed)
    if run_ids is not None and np.ndim(run_ids) == 1:
        candidates["run_ids"] = len(run_ids)
    values = set(candidates.values())
    if len(values) > 1:
        raise ValueError(f"the number of runs is ambiguous: {candidates}")
    R = values.pop() if values else 1
    if R < 1:
        raise ValueError(f"need at least one run, got {candidates}")
    return R


def run_sgd(
    problem: Problem,
    *,
    order="random_reshuffling",
    epochs: int,
    step_size,
    runs: int | None = None,
    x0=None,
    seed=0,
    run_ids=None,
    batch_size: int = 1,
    remainder: str = "partial",
    workers: int = 1,
    mode: str = "minibatch",
    sync_every: int | None = None,
    record="auto",
    record_every: int | None = None,
    record_iterates: bool = False,
    base_order=None,
    orders=None,
    threads: int | None = None,
    backend: str | None = None,
) -> SGDResult:
    """Run R independent SGD runs on ``problem`` in one call to the C++ core.

    Parameters
    ----------
    problem : optcore.problems.Problem
        The finite sum; its dtype (float32 or float64) is the dtype of the whole computation. A problem given by a
        Python gradient (:class:`optcore.UserProblem`, or any Problem with ``batch_gradient(X, idx)``) runs with
        every option below through a NumPy loop over steps, vectorized over runs (slower; see its docstring).
    order : str or array of int
        An order name (see :mod:`optcore.orders`), or an index array, which means ``order="explicit"`` with
        ``orders=`` that array.
    epochs : int
        K. An epoch is N / B steps (rounded up with ``remainder="partial"``, down with ``"drop"``).
    step_size : float, array (R,) or optcore.schedules.StepSchedule
        Constant, per-run, per-epoch or decaying step sizes.
    runs : int, optional
        R; otherwise taken from ``x0``, ``step_size``, ``seed`` or ``run_ids`` (default 1).
    x0 : array (d,) or (R, d), optional
        Initial points (default 0).
    seed : int, sequence of R ints, numpy.random.Generator or None
        Philox key(s), each in [0, 2**64); see :mod:`optcore._seeds`. Recorded in ``meta["seeds"]``.
    run_ids : array (R,) of int, optional
        Stream ids (default 0..R-1). Run r with ``run_ids=[r]`` alone reproduces run r of a batch bit for bit.
    batch_size : int
        B, indices per worker and step (1 <= B <= N).
    remainder : {"partial", "drop"}
        When B does not divide N: ``"partial"`` ends each epoch with a smaller batch of the N mod B leftover
        indices (every component is visited once per epoch); ``"drop"`` skips them (they are still part of the
        permutation, so which components are skipped changes from epoch to epoch under RR).
    workers : int
        M simulated workers; worker m owns components m N .. (m + 1) N - 1, N = n / M. At most 2**24 (the
        streams' worker field, docs/randomness.md).
    mode : {"minibatch", "local"}
        ``"minibatch"``: one iterate; each step averages the gradients of all M workers' batches.
        ``"local"``: each worker steps on its own copy with its batches; copies are averaged every
        ``sync_every`` local steps and at every epoch end.
    sync_every : int, optional
        Local steps between averages in local mode (default: once per epoch).
    record : "auto" or sequence of {"gap", "dist", "objective"}
        What to record. "auto": gap and dist when the problem knows its optimum, else objective.
    record_every : int, optional
        Record every this many steps; default: at every epoch end. The initial point is always recorded.
    record_iterates : bool
        Also keep the iterates at the record points (True or False; other values raise ``TypeError``).
    base_order : array (N,), optional
        Base permutation for ``"incremental"`` and ``"flipflop_ig"``.
    orders : array of int, optional
        User orders for ``order="explicit"``: (N,), (K, N), (R, K, N) or (R, K, M, N).
    threads : int, optional
        Threads for the runs, at most ``optcore._threads.MAX_THREADS`` (1024) and used up to R; default
        :func:`optcore.default_threads` (``OPTCORE_NUM_THREADS``, else the CPUs this process may use). Results do
        not depend on it.
    backend : {None, "cpu", "cuda"}
        None: follow the array arguments (CuPy ``x0``, ``step_size``, ``orders`` ... -> ``"cuda"``; mixing CuPy
        and NumPy arrays raises ``TypeError``). ``"cuda"`` runs the engine on the GPU (one thread per run, the
        same orders bit for bit, see docs/cuda.md) and returns CuPy arrays; it raises ``RuntimeError`` saying why
        when no GPU is usable (:func:`optcore.gpu_unavailable_reason`). Networks train on the CPU only.

    Returns
    -------
    SGDResult

    Raises
    ------
    ValueError
        Besides bad arguments: when the results (records of ``runs`` x record points, set by ``epochs`` and
        ``record_every``) cannot fit in the memory this process can have.
    KeyboardInterrupt
        On Ctrl-C during the run: the C++ loop stops within a fraction of a second and no thread is left running.

    Notes
    -----
    A call with the same options as one of the last few on the same problem (any ``x0`` with as many rows and any
    int or None ``seed``) reuses that call's checked plan, as long as every attribute of the problem is still the
    object it was; see :func:`_cache_key` for which calls qualify, and :func:`sgd_plan` to hold a plan yourself.
    """
    key = _cache_key(problem, order, epochs, step_size, runs, x0, seed, run_ids, batch_size, remainder, workers, mode,
                     sync_every, record, record_every, record_iterates, base_order, orders, threads, backend)
    cache = plan = None
    if key is not None:
        cache = problem.__dict__.get(_call_cache.ATTRIBUTE)
        plan = None if cache is None else cache.get(problem, key)
        threads = key[_KEY_THREADS]  # resolved for the key (threads=None: the default, read once per call)
    if plan is None:
        plan = _plan(
            problem, order=order, epochs=epochs, step_size=step_size, runs=runs, x0=x0, seed=seed, run_ids=run_ids,
            batch_size=batch_size, remainder=remainder, workers=workers, mode=mode, sync_every=sync_every,
            record=record, record_every=record_every, record_iterates=record_iterates, base_order=base_order,
            orders=orders, threads=threads, backend=backend,
        )
        if key is not None and plan._cacheable:
            _call_cache.cache_of(problem).put(problem, key, plan)
    return plan._run(x0, seed, run_ids)


#: Plans of at most this many runs are cached (their step tables and decays are O(R)).
_MAX_CACHED_RUNS = 4096


def _cache_key(problem, order, epochs, step_size, runs, x0, seed, run_ids, batch_size, remainder, workers, mode,
               sync_every, record, record_every, record_iterates, base_order, orders, threads, backend):
    """The key of run_sgd's plan in the problem's cache (optcore._call_cache), or None for a call that is planned
    afresh.

    Only calls whose plan is a function of the key and of the problem's attributes are cached: a built-in problem
    kind, options of exactly the plain types below (an int where 1.0 or True would be refused, and so on), no
    CuPy, no base or explicit orders; ``x0``, ``seed`` and ``run_ids`` enter the plan only through the number of
    runs they imply, so they are limited to a NumPy ``x0`` (its rows when 2-D), an int or None seed and no run ids.
    The thread count (``threads=None``: ``OPTCORE_NUM_THREADS`` or the usable CPUs) and ``OPTCORE_ISA`` are read
    on every call and are part of the key.
    """
    if (
        type(order) is not str or type(epochs) is not int or type(step_size) is not float
        or type(batch_size) is not int or type(remainder) is not str or type(workers) is not int
        or type(mode) is not str or type(record_iterates) is not bool
        or not (runs is None or type(runs) is int) or not (sync_every is None or type(sync_every) is int)
        or not (record_every is None or type(record_every) is int) or not (threads is None or type(threads) is int)
        or not (seed is None or type(seed) is int) or run_ids is not None
        or base_order is not None or orders is not None
        or not (backend is None or backend == "cpu") or _backend.cupy_imported()
        or not type(problem).__module__.startswith("optcore.") or not hasattr(problem, "__dict__")
    ):
        return None
    if x0 is None:
        rows = -1
    elif type(x0) is np.ndarray:
        rows = x0.shape[0] if x0.ndim == 2 else -1
    else:
        return None
    if type(record) is not str:
        if type(record) not in (tuple, list) or any(type(item) is not str for item in record):
            return None
        record = tuple(record)
    if threads is None:
        try:
            threads = resolve_threads(None)
        except ValueError:  # a bad OPTCORE_NUM_THREADS: the plan raises it, after the checks that come first
            return None
    return (order, epochs, step_size, runs, rows, batch_size, remainder, workers, mode, sync_every, record,
            record_every, record_iterates, threads, backend, _isa_requested())


_KEY_THREADS = 13  # where _cache_key's key holds the thread count


def sgd_plan(
    problem: Problem,
    *,
    order="random_reshuffling",
    epochs: int,
    step_size,
    runs: int | None = None,
    batch_size: int = 1,
    remainder: str = "partial",
    workers: int = 1,
    mode: str = "minibatch",
    sync_every: int | None = None,
    record="auto",
    record_every: int | None = None,
    record_iterates: bool = False,
    base_order=None,
    orders=None,
    threads: int | None = None,
    backend: str | None = None,
) -> SGDPlan:
    """:func:`run_sgd`'s arguments checked once, for many calls that differ only in ``x0``, ``seed`` and ``run_ids``.

    ``sgd_plan(problem, **options).run(x0=x0, seed=seed, run_ids=run_ids)`` returns exactly what
    ``run_sgd(problem, **options, x0=x0, seed=seed, run_ids=run_ids)`` returns (the same bits and meta, but
    ``elapsed_s``), without redoing the checks, order tables, step tables and the problem's fingerprint on every
    call: for loops of short runs (one epoch at a time, a seed per call), where run_sgd's Python layer costs more
    than the run. The arguments are those of :func:`run_sgd`; R comes from ``runs`` or ``step_size`` (default 1)
    and every call's ``x0``, ``seed`` and ``run_ids`` must fit it. The plan keeps the problem's data as they were
    when it was made (a problem's arrays must not be changed in place, see :class:`SGDResult`).

    Examples
    --------
    >>> plan = optcore.sgd_plan(problem, order="rr", epochs=1, step_size=0.01)
    >>> x = None
    >>> for epoch in range(100):                    # one epoch per call, each with its own seed
    ...     x = plan.run(x0=x, seed=epoch).x[0]
    """
    return _plan(
        problem, order=order, epochs=epochs, step_size=step_size, runs=runs, x0=None, seed=None, run_ids=None,
        batch_size=batch_size, remainder=remainder, workers=workers, mode=mode, sync_every=sync_every, record=record,
        record_every=record_every, record_iterates=record_iterates, base_order=base_order, orders=orders,
        threads=threads, backend=backend,
    )


def _plan(
    problem, *, order, epochs, step_size, runs, x0, seed, run_ids, batch_size, remainder, workers, mode, sync_every,
    record, record_every, record_iterates, base_order, orders, threads, backend,
) -> SGDPlan:
    """Check everything but the per-call arguments and build what the engine reads. ``x0``, ``seed`` and
    ``run_ids`` (None from :func:`sgd_plan`) only enter the choice of the backend and of R here."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an optcore.problems.Problem, got {type(problem).__name__}")
    callback = _user_loop.check_runnable(problem)  # a problem given by a Python gradient (optcore.UserProblem)
    backend = _backend.choose_backend(
        backend,
        {"x0": x0, "step_size": step_size, "seed": seed, "run_ids": run_ids, "base_order": base_order,
         "orders": orders, "order": order},
    )
    if backend == "cuda":
        if problem.kind == "mlp":
            raise ValueError("backend='cuda' trains the finite-sum problems; networks train on the CPU engine "
                             "(their passes run on the GPU through optcore.nn.MLP methods)")
        if callback:
            raise ValueError(f"backend='cuda' runs the compiled problem kinds; {type(problem).__name__} is given by a "
                             f"Python gradient and runs on the CPU (backend='cpu', NumPy arrays)")
        # validated on the host with the CPU path's checks; x0 goes back to the device in SGDPlan._run
        x0, step_size, seed, run_ids, base_order, orders, order = (
            _backend.host_copy(a) for a in (x0, step_size, seed, run_ids, base_order, orders, order)
        )
    if not isinstance(order, str):
        if np.ndim(order) == 0:
            raise TypeError(f"order must be a string (an order name) or an index array, got {type(order).__name__}")
        if orders is not None:
            raise ValueError("give the explicit orders either as order= or as orders=, not both")
        order, orders = "explicit", order
    name = canonical_order(order)
    epochs = integer(epochs, "epochs", minimum=1, maximum=MAX_EPOCHS, why=WHY_EPOCHS)
    workers = integer(workers, "workers", minimum=1, maximum=MAX_WORKERS, why=WHY_WORKERS)
    if problem.n % workers:
        raise ValueError(f"workers M = {workers} must divide the number of components n = {problem.n}")
    N = problem.n // workers
    batch_size = integer(batch_size, "batch_size", minimum=1)
    if batch_size > N:
        raise ValueError(f"batch_size must be <= N = {N} components per worker, got {batch_size}")
    choice(remainder, "remainder", {"partial", "drop"})
    mode = choice(mode, "mode", {"minibatch", "local"})
    count = N if remainder == "partial" else (N // batch_size) * batch_size
    steps_per_epoch = -(-count // batch_size)
    if sync_every is None:
        sync_every = steps_per_epoch
    else:
        sync_every = integer(sync_every, "sync_every", minimum=1, maximum=INT64_MAX)
        if mode != "local":
            raise ValueError("sync_every only applies to mode='local'")
    record_every = 0 if record_every is None else integer(record_every, "record_every", minimum=1, maximum=INT64_MAX)
    record_iterates = boolean(record_iterates, "record_iterates")
    if steps_per_epoch * epochs > INT64_MAX:
        raise ValueError(f"epochs * steps per epoch must be < 2**63, got {epochs} * {steps_per_epoch}")
    schedule = as_schedule(step_size)
    R = _count_runs(runs, x0, schedule, seed, run_ids)
    dtype = problem.dtype
    threads = resolve_threads(threads)
    what = _what_to_record(record, problem)
    n_records = epochs + 1 if record_every == 0 else steps_per_epoch * epochs // record_every + 1
    small = _check_result_size(R, problem.dim, n_records, what, record_iterates, dtype, epochs, record_every)
    table, decay = schedule.compact_table(R, epochs, dtype)
    spec, run_arrays = order_spec(
        name, workers=workers, per_worker=N, count=count, runs=R, epochs=epochs, base_order=base_order, orders=orders
    )
    run_arrays.update(step_table=table, decay=decay)
    spec.update(
        epochs=epochs,
        batch_size=batch_size,
        mode=0 if mode == "minibatch" else 1,
        sync_every=sync_every,
        record_every=record_every,
        threads=threads,
        # which compiled copy of the loops: "auto" (the widest the CPU runs: AVX-512, AVX2, portable), or one forced
        # with OPTCORE_ISA=portable|avx2|avx512 for tests and benchmarks (a copy the CPU lacks raises ValueError);
        # every copy gives the same bits
        isa=_isa_requested(),
    )
    if callback:
        _user_loop.check_records(problem, what)
    explicit = run_arrays.get("explicit_orders")
    meta = {
        "optcore_version": _version(),
        "problem": problem.kind,
        "order": name,
        "n": problem.n,
        "dim": problem.dim,
        "dtype": _DTYPE_NAMES.get(dtype) or str(dtype),
        "runs": R,
        "epochs": epochs,
        "workers": workers,
        "per_worker": N,
        "batch_size": batch_size,
        "remainder": remainder,
        "count": count,
        "steps_per_epoch": steps_per_epoch,
        "mode": mode,
        "sync_every": sync_every,
        "record_every": record_every,
        "seeds": None,  # per call, from here on
        "run_ids": None,
        "base_order": None if base_order is None else np.asarray(base_order).tolist(),
        "step_size": to_spec(schedule),
        "x0": None,
        "record": list(what),
        "record_iterates": record_iterates,
        "problem_sha256": problem_fingerprint(problem),
        "orders_sha256": _orders_digest(explicit),
        "threads": threads,
        "isa": _isa_used(spec["isa"]),
        "backend": backend,
        "elapsed_s": None,
    }
    data = problem._data() if backend == "cpu" and not callback else None  # what the compiled CPU engine reads
    plan = SGDPlan(problem, data, bool(callback), backend, what, n_records, spec, run_arrays, meta,
                   _not_aliasing(explicit, orders))
    # run_sgd may keep it for the next identical call: the memory check above looked nothing up, and the plan holds
    # only O(R) tables
    plan._cacheable = small and R <= _MAX_CACHED_RUNS and explicit is None and data is not None
    return plan


_AUTO_ISA: list[str] = []


def _isa_used(requested: str) -> str:
    """The compiled copy a run used: the one requested, or for "auto" the one the core picks on this CPU."""
    if requested != "auto":
        return requested
    if not _AUTO_ISA:
        _AUTO_ISA.append(_core.isa_info()["auto"])
    return _AUTO_ISA[0]


class SGDPlan:
    """:func:`run_sgd` with every argument but ``x0``, ``seed`` and ``run_ids`` checked and prepared: see
    :func:`sgd_plan`, which makes one. Attributes ``runs`` (R), ``dim`` (d) and ``meta`` (the plan's part of
    every result's ``meta``) are read-only by convention."""

    _cacheable = False  # set by _plan: whether run_sgd may keep this plan for its next identical call

    def __init__(self, problem, data, callback, backend, what, n_records, spec, run_arrays, meta, explicit_orders):
        self._problem, self._data, self._callback, self.backend = problem, data, callback, backend
        self._what, self._n_records, self._spec, self._run_arrays = what, n_records, spec, run_arrays
        self.meta, self._explicit_orders = meta, explicit_orders
        self.runs, self.dim, self._dtype = meta["runs"], meta["dim"], problem.dtype
        self._record_iterates = meta["record_iterates"]
        spe, every = meta["steps_per_epoch"], meta["record_every"]
        self._steps = np.arange(n_records, dtype=np.int64) * (spe if every == 0 else every)
        self._epochs = self._steps / spe
        # the fixed record inputs; the arrays the engine writes are allocated per call
        self._rec_inputs = {}
        if problem.x_star is not None:
            self._rec_inputs["x_star"] = np.ascontiguousarray(problem.x_star, dtype=self._dtype)
        if problem.hessian is not None:
            self._rec_inputs["hessian"] = np.ascontiguousarray(problem.hessian, dtype=self._dtype)
        if problem.f_star is not None:
            self._rec_inputs["f_star"] = problem.f_star
        # the compiled CPU engine reads every argument of the plan once, at the first run (where _core.run_sgd
        # read them, so that its refusals, e.g. of OPTCORE_ISA, come after the checks of x0 and the seeds, as they
        # did); a call hands it x, the keys and the run ids, and gets the records back allocated and checked
        self._prepared = None
        self._default_ids = np.arange(self.runs, dtype=np.uint32)  # run_ids=None; read only by the engine
        self._default_id_list = self._default_ids.tolist()
        self._step_size_is_float = type(meta["step_size"]) is float  # a float: no copy per result

    def __repr__(self) -> str:
        m = self.meta
        return (f"SGDPlan({m['problem']}, order={m['order']!r}, runs={m['runs']}, epochs={m['epochs']}, "
                f"batch_size={m['batch_size']}, backend={m['backend']!r})")

    def run(self, *, x0=None, seed=0, run_ids=None) -> SGDResult:
        """The runs from ``x0`` (array (d,) or (R, d), default 0) with Philox keys ``seed`` and stream ids
        ``run_ids``, as in :func:`run_sgd`; returns an :class:`SGDResult`."""
        if self.backend != "cpu" or _backend.cupy_imported():
            _backend.choose_backend(self.backend, {"x0": x0, "seed": seed, "run_ids": run_ids})
        return self._run(x0, seed, run_ids)

    def _run(self, x0, seed, run_ids) -> SGDResult:
        R, d, dtype, what = self.runs, self.dim, self._dtype, self._what
        if self.backend == "cuda":
            x0, seed, run_ids = (_backend.host_copy(a) for a in (x0, seed, run_ids))
        if x0 is None:
            x = np.zeros((R, d), dtype=dtype)
        else:
            x0 = float_array(x0, "x0", dtype, ndim=(1, 2))
            if x0.shape[-1] != d or (x0.ndim == 2 and x0.shape[0] != R):
                raise ValueError(f"x0 must have shape (d,) = ({d},) or (R, d) = ({R}, {d}), got {x0.shape}")
            x = np.ascontiguousarray(np.broadcast_to(x0, (R, d)), dtype=dtype).copy()
        self._problem._check_start(x)
        x0_used = None if x0 is None else x0.copy()  # validated and in the problem's dtype: replays bit for bit
        keys = resolve_keys(seed, R)
        if run_ids is None:
            ids, id_list = self._default_ids, list(self._default_id_list)
        else:
            ids = resolve_run_ids(run_ids, R)
            id_list = ids.tolist()

        start = time.perf_counter()
        if self._data is not None:  # the compiled CPU engine: records allocated, filled and checked there
            if self._prepared is None:
                self._prepared = _core.prepare_sgd(self._problem.kind, self._data, self._run_arrays, self._spec,
                                                   self._rec_inputs, list(what), self._record_iterates, R, d,
                                                   self.meta["dtype"])
            rec, status = self._prepared.run(x, keys, ids)
        else:
            rec = {"diverged": np.zeros(R, dtype=np.uint8), **self._rec_inputs}
            for item in what:
                rec[item] = _nans((R, self._n_records), dtype)  # NaN until written: a gap can never hide
            if self._record_iterates:
                rec["iterates"] = _nans((R, self._n_records, d), dtype)
            run_arrays = {**self._run_arrays, "seeds": keys, "run_ids": ids}
            if self.backend == "cuda":
                x, rec = _run_cuda(self._problem, x, run_arrays, self._spec, rec)
            else:
                _user_loop.run(self._problem, x, run_arrays, self._spec, rec)
            status = 3  # not checked yet
        elapsed = time.perf_counter() - start

        if status & 2:  # a recorded value is not finite (status 0 and 1: all are)
            _flag_non_finite_records(x, rec, what)
        # the prepared run's flags are a new bool array already (nobody else holds it); the others' are uint8
        diverged = rec["diverged"] if self._data is not None else rec["diverged"] != 0
        if status and diverged.any():
            x[diverged] = np.nan  # a diverged run's last iterate is no result (it may hold inf)
            warnings.warn(
                f"{int(diverged.sum())} of {R} runs diverged (non-finite iterates, or a recorded value that "
                f"overflowed); their records are NaN from that point on and their x is NaN. Reduce the step size.",
                DivergenceWarning,
                stacklevel=3,
            )
        meta = dict(self.meta)  # the plan's entries, fresh copies of its lists, and this call's
        step_size = meta["step_size"]
        meta.update(
            seeds=keys.tolist(),  # Python ints
            run_ids=id_list,
            base_order=None if meta["base_order"] is None else list(meta["base_order"]),
            # a float, or the lists of a per-run or per-epoch schedule
            step_size=step_size if self._step_size_is_float else copy.deepcopy(step_size),
            x0=x0_used,
            record=list(what),
            elapsed_s=elapsed,
        )
        return SGDResult(
            x=x,
            steps=self._steps.copy(),
            epochs=self._epochs.copy(),
            gap=rec.get("gap"),
            dist=rec.get("dist"),
            objective=rec.get("objective"),
            iterates=rec.get("iterates"),
            diverged=diverged,
            accuracy=rec.get("accuracy"),
            meta=meta,
            _explicit_orders=self._explicit_orders,
        )

def _nans(shape, dtype) -> np.ndarray:
    """A new array of NaN (np.full's cost is mostly its Python layer; this is a per-call path)."""
    out = np.empty(shape, dtype=dtype)
    out.fill(np.nan)
    return out


def _check_result_size(R, d, n_records, what, record_iterates, dtype, epochs, record_every) -> bool:
    """Refuse, naming the arguments, results that cannot fit in memory (before anything is allocated). Returns
    whether they are small enough to fit on any machine (then nothing was looked up)."""
    itemsize = np.dtype(dtype).itemsize
    per_point = len(what) * itemsize + (d * itemsize if record_iterates else 0)
    nbytes = R * (d * itemsize + 32) + n_records * (16 + R * per_point)  # x, per-run arrays, steps/epochs, records
    if nbytes < SMALL:  # fits whatever the limit; the message below is only built when it may be needed
        return True
    points = f"{n_records} record points ({'every epoch end' if record_every == 0 else f'every {record_every} steps'}"
    points += f" of epochs={epochs} epochs)"
    check_fits(
        nbytes,
        f"run_sgd(runs={R}, epochs={epochs}, record_every={record_every or None}) recording "
        f"{', '.join(what + (('iterates',) if record_iterates else ()))} at {points}",
        "record less often (a larger record_every=), or ask for fewer epochs= or runs=",
    )
    return False


def _flag_non_finite_records(x, rec: dict, what) -> None:
    """Mark as diverged every run with a non-finite recorded value, and make its records NaN from there on.

    The engine stops runs whose iterate stops being finite; an iterate can stay finite while its objective, gap
    or distance overflows (e.g. the loss of a network on huge inputs), and that is no result either. Both
    backends' arrays (NumPy or CuPy) go through here, so they agree.
    """
    names = [n for n in (*what, "iterates") if n in rec and n != "accuracy"]
    if not names:
        return
    if not _backend.is_cupy_array(x) and all(np.isfinite(rec[name]).all() for name in names):
        return  # the usual case, at the cost of one pass
    values = [_backend.host_copy(rec[name]) for name in names]  # CuPy records: decided on the host
    bad = None
    for v in values:
        finite = np.isfinite(v)
        if finite.ndim == 3:
            finite = finite.all(axis=2)
        bad = ~finite if bad is None else bad | ~finite
    hit = bad.any(axis=1)
    if not hit.any():
        return
    after = (np.arange(bad.shape[1])[None, :] >= np.argmax(bad, axis=1)[:, None]) & hit[:, None]
    if _backend.is_cupy_array(x):
        cp = _backend.cupy()
        hit, after = cp.asarray(hit), cp.asarray(after)
    for name in (*names, "accuracy"):
        if name in rec:
            rec[name][after] = np.nan
    rec["diverged"][hit] = 1


def _run_cuda(problem: Problem, x: np.ndarray, run_arrays: dict, spec: dict, rec: dict):
    """Upload the iterates and record arrays, run the GPU engine, and return them as CuPy arrays."""
    from .cuda import sgd as cuda_sgd

    cp = _backend.cupy()
    x_d = cp.asarray(x)
    rec_d = {k: (cp.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in rec.items()}
    cuda_sgd.run(problem.kind, problem._data(), x_d, run_arrays, spec, rec_d)
    cp.cuda.get_current_stream().synchronize()  # so that elapsed_s measures the run
    return x_d, rec_d


def _what_to_record(record, problem: Problem) -> tuple[str, ...]:
    if isinstance(record, str):
        if record != "auto":
            record = (record,)
        elif problem.kind == "mlp":
            return ("objective", "accuracy")
        elif not _user_loop.can_evaluate_objective(problem):
            return _user_loop.auto_records(problem)
        elif problem.x_star is not None and problem.f_star is not None:
            return ("gap", "dist")
        else:
            return ("objective",)
    try:
        record = tuple(record)
    except TypeError:
        raise TypeError(
            f"record must be 'auto' or a sequence of {list(RECORDABLE)}, got {type(record).__name__}"
        ) from None
    for item in record:
        choice(item, "record entries", set(RECORDABLE))
    if "gap" in record and problem.f_star is None:
        raise ValueError(f"record='gap' needs the optimal value, which {type(problem).__name__} does not know here")
    if "accuracy" in record and problem.kind != "mlp":
        raise ValueError("record='accuracy' needs a network problem (optcore.nn.NetworkProblem)")
    if "dist" in record and problem.x_star is None:
        raise ValueError(f"record='dist' needs the minimizer, which {type(problem).__name__} does not know here")
    return record


def _orders_digest(orders) -> str | None:
    """SHA-256 of explicit orders (int64, C order, with their shape), or None."""
    if orders is None:
        return None
    data = np.ascontiguousarray(orders, dtype=np.int64)
    return hashlib.sha256(f"{data.shape}".encode() + data.tobytes()).hexdigest()


def _step_sizes_at(meta: dict, steps: np.ndarray) -> np.ndarray:
    """(R, P) step size of the step that led to each record point (the first step for step 0), as the engine
    computes it: ``table[r, k] / (1 + decay[r] t)`` in the problem's dtype, t the step index, k its epoch."""
    schedule = from_spec(meta["step_size"])
    dtype, R, K, spe = np.dtype(meta["dtype"]), meta["runs"], meta["epochs"], meta["steps_per_epoch"]
    t = np.maximum(np.asarray(steps, dtype=np.int64), 1) - 1
    k = np.minimum(t // spe, K - 1)
    base = schedule.base.astype(dtype)
    if schedule.kind == "per_epoch":
        eta = np.broadcast_to(base[..., k] if base.ndim == 2 else base[k], (R, t.size))
    else:
        eta = np.broadcast_to(base.reshape(-1, 1) if base.ndim else base, (R, t.size))
    decay = np.broadcast_to(schedule.decay.astype(dtype), (R,))[:, None]
    out = np.where(decay == 0, eta, eta / (dtype.type(1) + decay * t.astype(dtype)))
    return np.asarray(out, dtype=dtype)


def _not_aliasing(array, argument):
    """``array``, or a copy of it where it is the caller's ``argument`` itself (results never share their memory)."""
    if isinstance(array, np.ndarray) and isinstance(argument, np.ndarray) and np.shares_memory(array, argument):
        return array.copy()
    return array
