"""The grid of run_sgd cases that the engine-vs-reference and user-problem tests both cover: every order x a set of
batch / worker / record settings, on the same starting points, step sizes and explicit orders.

One place, so that a new order or setting is checked against the NumPy reference and the Python-callback loop alike.
"""

import numpy as np

ORDERS = [
    "with_replacement",
    "random_reshuffling",
    "single_shuffle",
    "incremental",
    "flipflop_rr",
    "flipflop_ss",
    "flipflop_ig",
    "explicit",
    "syncshuf",
]

# name -> options; n = 12 components (18 with 3 workers, so that M | N for syncshuf); B = 5 leaves a remainder of
# 2 (or 4 of 9)
SETTINGS = {
    "sgd": dict(batch_size=1),
    "batch5_partial": dict(batch_size=5),
    "batch5_drop": dict(batch_size=5, remainder="drop"),
    "minibatch_M2_B2": dict(workers=2, batch_size=2),
    "minibatch_M3_B4": dict(workers=3, batch_size=4),
    "local_M2_sync3": dict(workers=2, mode="local", sync_every=3),
    "local_M3_B2_sync1": dict(workers=3, batch_size=2, mode="local", sync_every=1),
    "local_M2_B5_record3": dict(workers=2, batch_size=5, mode="local", sync_every=2, record_every=3),
    "record_every_5": dict(batch_size=1, record_every=5),
    "batch5_record_every_2": dict(batch_size=5, record_every=2),
}

# syncshuf is a multi-worker order: only with the settings that have workers
CASES = [(o, s) for o in ORDERS for s in SETTINGS if o != "syncshuf" or SETTINGS[s].get("workers", 1) > 1]


def components(setting: str) -> int:
    """The number of components n for ``setting``: 12, or 18 with 3 workers (so that M | n)."""
    return 18 if SETTINGS[setting].get("workers", 1) == 3 else 12


def run_options(problem, order: str, options: dict, *, R: int = 3, K: int = 4, seed: int = 7) -> dict:
    """``run_sgd`` keyword arguments for ``order`` with ``options`` (a setting's, or any): R runs of K epochs from
    standard-normal starts with step sizes 0.05, 0.1, 0.02, iterates recorded; ``explicit`` gets random index
    orders and ``incremental`` / ``flipflop_ig`` a random base order (the same draws every time)."""
    options = dict(options)
    M = options.get("workers", 1)
    N = problem.n // M
    rng = np.random.default_rng(1)
    options.update(
        order=order,
        epochs=K,
        x0=rng.standard_normal((R, problem.dim)),
        step_size=np.array([0.05, 0.1, 0.02][:R]),
        seed=seed,
        record_iterates=True,
    )
    if order == "explicit":
        options["orders"] = rng.integers(0, N, size=(R, K, M, N))
    if order in ("incremental", "flipflop_ig"):
        options["base_order"] = rng.permutation(N)
    return options
