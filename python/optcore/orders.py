"""Orders in which SGD visits the components of a finite sum, and tools to inspect and replay them.

Order names (aliases in brackets):

* ``"with_replacement"`` [``"wr"``, ``"iid"``, ``"sgd"``]: i.i.d. uniform indices;
* ``"random_reshuffling"`` [``"rr"``]: a fresh uniform permutation every epoch;
* ``"single_shuffle"`` [``"ss"``, ``"shuffle_once"``, ``"so"``]: one permutation, reused every epoch;
* ``"incremental"`` [``"ig"``, ``"cyclic"``]: the base order (identity unless ``base_order`` is given) every epoch;
* ``"flipflop_rr"`` [``"flipflop"``], ``"flipflop_ss"``, ``"flipflop_ig"``: Rajput, Lee and Papailiopoulos'
  FlipFlop on top of RR, SS or IG: even epochs use the base order of that epoch, odd epochs the previous epoch's
  order reversed;
* ``"syncshuf"``: Yun, Rajput and Sra's synchronized shuffling across M workers (needs M | N);
* ``"explicit"``: indices given by the user (any indices in range, not necessarily permutations).

The exact streams are specified in docs/randomness.md; :mod:`optcore.reference` is a NumPy implementation of that
spec, and :func:`epoch_orders` with ``backend="numpy"`` uses it.
"""

from __future__ import annotations

import numpy as np

from . import _backend, _core, reference
from ._memory import check_fits
from ._seeds import resolve_keys, resolve_run_ids
from ._validation import (
    MAX_EPOCHS,
    MAX_PER_WORKER,
    MAX_RUNS,
    MAX_WORKERS,
    WHY_EPOCHS,
    WHY_RUNS,
    WHY_WORKERS,
    choice,
    index_array,
    integer,
)

#: Integer codes shared with the C++ enum ``optcore::OrderKind``.
ORDER_CODES = {
    "with_replacement": 0,
    "random_reshuffling": 1,
    "single_shuffle": 2,
    "incremental": 3,
    "flipflop_rr": 4,
    "flipflop_ss": 5,
    "flipflop_ig": 6,
    "explicit": 7,
    "syncshuf": 8,
}

ALIASES = {
    "wr": "with_replacement",
    "iid": "with_replacement",
    "sgd": "with_replacement",
    "rr": "random_reshuffling",
    "ss": "single_shuffle",
    "so": "single_shuffle",
    "shuffle_once": "single_shuffle",
    "ig": "incremental",
    "cyclic": "incremental",
    "flipflop": "flipflop_rr",
}

#: Orders whose epochs visit every component exactly once.
PERMUTATION_ORDERS = frozenset(ORDER_CODES) - {"with_replacement", "explicit"}


def canonical_order(order) -> str:
    """Return the canonical name of ``order`` (a name or alias); raise ``ValueError`` for unknown names."""
    if not isinstance(order, str):
        raise TypeError(f"order must be a string (one of {sorted(ORDER_CODES)}) or an index array")
    name = ALIASES.get(order, order)
    if name not in ORDER_CODES:
        raise ValueError(f"order must be one of {sorted(ORDER_CODES)} or an alias {sorted(ALIASES)}, got {order!r}")
    return name


def explicit_order_array(orders, *, runs: int, epochs: int, workers: int, per_worker: int) -> np.ndarray:
    """Validate user orders and return them as a C-contiguous int64 array (Re, Ke, M, N), Re in {1, R}, Ke in {1, K}.

    Accepted shapes: (N,), (K, N), (R, K, N) -- shared by all workers -- and (R, K, M, N).
    """
    arr = index_array(orders, "orders", upper=per_worker)
    if arr.ndim == 0 or arr.ndim > 4:
        raise ValueError(f"orders must have shape (N,), (K, N), (R, K, N) or (R, K, M, N), got {arr.shape}")
    if arr.shape[-1] != per_worker:
        raise ValueError(
            f"orders must have length N = {per_worker} (components per worker) in the last axis, got {arr.shape}"
        )
    if arr.ndim < 4:
        arr = arr.reshape((1,) * (3 - arr.ndim) + arr.shape)  # -> (Re, Ke, N)
        arr = np.broadcast_to(arr[:, :, None, :], (arr.shape[0], arr.shape[1], workers, per_worker))
    if arr.shape[2] != workers:
        raise ValueError(f"orders has {arr.shape[2]} workers in axis 2, expected M = {workers}")
    if arr.shape[0] not in (1, runs):
        raise ValueError(f"orders has {arr.shape[0]} runs in axis 0, expected 1 or R = {runs}")
    if arr.shape[1] not in (1, epochs):
        raise ValueError(f"orders has {arr.shape[1]} epochs, expected 1 or K = {epochs}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def base_order_array(base_order, per_worker: int) -> np.ndarray | None:
    """Validate a base order (a permutation of 0..N-1) for the incremental orders; return uint32 or None."""
    if base_order is None:
        return None
    arr = index_array(base_order, "base_order", upper=per_worker)
    if arr.shape != (per_worker,) or np.unique(arr).size != per_worker:
        raise ValueError(f"base_order must be a permutation of 0..{per_worker - 1}, got shape {arr.shape}")
    return arr.astype(np.uint32)


def order_spec(
    order: str, *, workers: int, per_worker: int, count: int, runs: int, epochs: int, base_order=None, orders=None
) -> tuple[dict, dict]:
    """Build the (spec, arrays) dicts the compiled core reads; validates everything order-related."""
    name = canonical_order(order)
    # the streams' fields and the core's uint32 counts (docs/randomness.md); checked here for every caller
    integer(workers, "workers", minimum=1, maximum=MAX_WORKERS, why=WHY_WORKERS)
    if per_worker > MAX_PER_WORKER:
        raise ValueError(f"at most 2**32 - 1 components per worker, got N = {per_worker}")
    if name == "syncshuf" and per_worker % workers:
        raise ValueError(f"syncshuf needs the workers M = {workers} to divide N = {per_worker}")
    if (orders is None) == (name == "explicit"):
        raise ValueError("orders= must be given exactly when order='explicit'")
    if base_order is not None and name not in ("incremental", "flipflop_ig"):
        raise ValueError(f"base_order only applies to 'incremental' and 'flipflop_ig', not {name!r}")
    arrays = {"base_order": base_order_array(base_order, per_worker)}
    if name == "explicit":
        arrays["explicit_orders"] = explicit_order_array(
            orders, runs=runs, epochs=epochs, workers=workers, per_worker=per_worker
        )
    spec = {"order": ORDER_CODES[name], "workers": workers, "per_worker": per_worker, "count": count}
    return spec, arrays


def epoch_orders(
    order,
    n: int,
    epochs: int,
    *,
    seed=0,
    runs: int = 1,
    run_ids=None,
    workers: int = 1,
    count: int | None = None,
    base_order=None,
    orders=None,
    first_epoch: int = 0,
    backend: str | None = None,
) -> np.ndarray:
    """The exact indices the engine visits: an int64 array of shape (runs, epochs, workers, count).

    Parameters
    ----------
    order : str
        An order name or alias (see the module docstring).
    n : int
        Number of components in total; each of the ``workers`` owns ``N = n / workers`` of them and the
        returned indices are local to a worker (global index = ``m * N + local``).
    epochs : int
        Number of epochs K (at most 2**32 - 1, the streams' epoch field).
    seed : int, sequence of int, numpy.random.Generator or None
        As for :func:`optcore.run_sgd`.
    runs : int
        Number of runs R.
    run_ids : array of int, optional
        Stream ids of the runs (default ``0..R-1``); ``run_ids=[r]`` replays run ``r`` of a batch alone.
    workers : int
        Number of workers M (at most 2**24, the streams' worker field).
    count : int, optional
        Indices per worker and epoch (default N; fewer when a batch remainder is dropped).
    base_order, orders : array, optional
        The base order of the incremental orders, and the user orders for ``order="explicit"``.
    first_epoch : int
        Give epochs ``first_epoch .. first_epoch + epochs - 1`` (default 0): ``epoch_orders(..., epochs=1,
        first_epoch=k)`` is epoch k of the full array, computed without the epochs before it (each epoch's
        streams are named by its number, docs/randomness.md). Explicit orders are the user's own, epoch j of
        the window being ``orders[j]``: the window does not shift them.
    backend : {None, "cpp", "cpu", "numpy", "cuda"}
        The compiled core (``"cpp"``, alias ``"cpu"``), the pure-NumPy reference (:mod:`optcore.reference`) or
        the GPU kernels (``"cuda"``, a CuPy array out); all give identical results. None: the compiled core, or
        ``"cuda"`` when ``base_order`` / ``orders`` are CuPy arrays.

    Returns
    -------
    numpy.ndarray or cupy.ndarray
        int64 indices, shape (runs, epochs, workers, count).
    """
    runs = integer(runs, "runs", minimum=1, maximum=MAX_RUNS, why=WHY_RUNS)
    epochs = integer(epochs, "epochs", minimum=1, maximum=MAX_EPOCHS, why=WHY_EPOCHS)
    workers = integer(workers, "workers", minimum=1, maximum=MAX_WORKERS, why=WHY_WORKERS)
    n = integer(n, "n", minimum=1)
    if n % workers:
        raise ValueError(f"workers M = {workers} must divide n = {n}")
    per_worker = n // workers
    count = per_worker if count is None else integer(count, "count", minimum=1, maximum=per_worker)
    first_epoch = integer(first_epoch, "first_epoch", minimum=0, maximum=2**32 - epochs)
    if backend is None or backend in ("cpu", "cpp", "cuda"):
        chosen = _backend.choose_backend(
            None if backend is None else "cuda" if backend == "cuda" else "cpu",
            {"seed": seed, "run_ids": run_ids, "base_order": base_order, "orders": orders},
        )
        backend = "cuda" if chosen == "cuda" else "cpp"
        seed, run_ids, base_order, orders = (_backend.host_copy(a) for a in (seed, run_ids, base_order, orders))
    choice(backend, "backend", {"cpp", "cpu", "numpy", "cuda"})
    spec, arrays = order_spec(
        order,
        workers=workers,
        per_worker=per_worker,
        count=count,
        runs=runs,
        epochs=epochs,
        base_order=base_order,
        orders=orders,
    )
    arrays["seeds"] = resolve_keys(seed, runs)
    arrays["run_ids"] = resolve_run_ids(run_ids, runs)
    name = canonical_order(order)
    if name == "explicit":  # the user's orders are not drawn from streams: the window's epoch j is orders[j]
        first_epoch = 0
    entries = runs * epochs * workers * count
    check_fits(  # int64 out, and the uint32 array of the core it is converted from
        entries * (8 + (4 if backend in ("cpp", "cpu") else 0)),
        f"epoch_orders(runs={runs}, epochs={epochs}) of {workers} x {count} indices per epoch ({entries} indices)",
        "ask for fewer runs= or epochs= at a time (windows of epochs with first_epoch=, of runs with run_ids=: "
        "each gives the same indices as the whole)",
    )
    if backend == "cpp":
        return _core.epoch_orders(spec, arrays, epochs, first_epoch).astype(np.int64)
    if backend == "cuda":
        from .cuda import orders as cuda_orders

        return cuda_orders.epoch_orders(spec, arrays, epochs, first_epoch)
    out = np.empty((runs, epochs, workers, count), dtype=np.int64)
    explicit = arrays.get("explicit_orders")
    for r in range(runs):
        for k in range(epochs):
            # explicit orders may be shared by all runs or epochs (extent 1)
            mine = None if explicit is None else explicit[min(r, explicit.shape[0] - 1), min(k, explicit.shape[1] - 1)]
            out[r, k] = reference.epoch_order(
                name,
                seed=int(arrays["seeds"][r]),
                run=int(arrays["run_ids"][r]),
                epoch=first_epoch + k,
                workers=workers,
                per_worker=per_worker,
                count=count,
                base_order=base_order,
                explicit=mine,
            )
    return out


def replay(result, run: int) -> np.ndarray:
    """The (epochs, workers, count) indices that run ``run`` of an :class:`optcore.SGDResult` visited."""
    meta = result.meta
    run = integer(run, "run", minimum=0, maximum=meta["runs"] - 1)
    explicit = result._explicit_orders
    if explicit is not None:
        explicit = explicit[min(run, explicit.shape[0] - 1)][None]
    return epoch_orders(
        meta["order"],
        meta["n"],
        meta["epochs"],
        seed=[meta["seeds"][run]],
        runs=1,
        run_ids=[meta["run_ids"][run]],
        workers=meta["workers"],
        count=meta["count"],
        base_order=meta["base_order"],
        orders=explicit,
    )[0]
