"""The engine's iterates against the independent NumPy step-by-step implementation, fed the same index streams.

Every order x problem x batch/worker setting x dtype; float64 to 1e-12 relative, float32 to 2e-4.
"""

import numpy as np
import pytest
from conftest import PROBLEM_KINDS, RTOL, make_problem
from sgd_reference import reference_run

import optcore

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

# name -> options; n = 12 components (18 with 3 workers, so that M | N for syncshuf)
SETTINGS = {
    "sgd": dict(batch_size=1),
    "batch5_partial": dict(batch_size=5),
    "batch5_drop": dict(batch_size=5, remainder="drop"),
    "minibatch_M2_B2": dict(workers=2, batch_size=2),
    "local_M2_sync3": dict(workers=2, mode="local", sync_every=3),
    "local_M3_B2_sync1": dict(workers=3, batch_size=2, mode="local", sync_every=1),
    "record_every_5": dict(batch_size=1, record_every=5),
}


def _run_both(problem, order, options, *, decay=False):
    R, K, n = 3, 4, problem.n
    rng = np.random.default_rng(1)
    M = options.get("workers", 1)
    N = n // M
    B = options.get("batch_size", 1)
    count = N if options.get("remainder", "partial") == "partial" else (N // B) * B
    x0 = rng.standard_normal((R, problem.dim))
    step = np.array([0.05, 0.1, 0.02])
    schedule = optcore.schedules.inverse_time(step, 0.01) if decay else step
    extra = {}
    if order == "explicit":
        extra["orders"] = rng.integers(0, N, size=(R, K, M, N))
    if order == "incremental":
        extra["base_order"] = rng.permutation(N)
    res = optcore.run_sgd(
        problem, order=order, epochs=K, step_size=schedule, x0=x0, seed=7, record_iterates=True, **options, **extra
    )
    idx = optcore.epoch_orders(
        order,
        n,
        K,
        seed=7,
        runs=R,
        workers=M,
        count=count,
        base_order=extra.get("base_order"),
        orders=extra.get("orders"),
    )
    table, dec = (optcore.schedules.as_schedule(schedule)).table(R, K, np.float64)
    final, recs = reference_run(
        problem,
        idx,
        table,
        dec,
        x0.astype(problem.dtype).astype(np.float64),
        batch_size=B,
        workers=M,
        mode=options.get("mode", "minibatch"),
        sync_every=options.get("sync_every", -(-count // B)),
        record_every=options.get("record_every", 0),
    )
    return res, final, recs


def _close(actual, expected, dtype):
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=RTOL[dtype] * scale)


# syncshuf is a multi-worker order: only with the settings that have workers
CASES = [(o, s) for o in ORDERS for s in SETTINGS if o != "syncshuf" or SETTINGS[s].get("workers", 1) > 1]


@pytest.mark.parametrize(("order", "setting"), CASES)
@pytest.mark.parametrize("kind", PROBLEM_KINDS)
def test_iterates_match_reference(kind, order, setting, dtype):
    options = SETTINGS[setting]
    workers = options.get("workers", 1)
    problem = make_problem(kind, dtype, n=18 if workers == 3 else 12, workers=workers)
    res, final, recs = _run_both(problem, order, options)
    assert res.x.dtype == dtype
    _close(res.x, final, dtype)
    _close(res.iterates, recs, dtype)
    assert not res.diverged.any()


@pytest.mark.parametrize("kind", PROBLEM_KINDS)
def test_decaying_step_sizes_match_reference(kind, dtype):
    problem = make_problem(kind, dtype)
    res, final, _ = _run_both(problem, "random_reshuffling", {"batch_size": 2}, decay=True)
    _close(res.x, final, dtype)


@pytest.mark.parametrize("kind", PROBLEM_KINDS)
def test_recorded_gap_and_distance(kind):
    problem = make_problem(kind, np.float64)
    res = optcore.run_sgd(
        problem,
        order="rr",
        epochs=3,
        step_size=0.05,
        runs=2,
        seed=3,
        record_iterates=True,
        record=("gap", "dist", "objective"),
    )
    xs = res.iterates
    f = problem.objective(xs)
    np.testing.assert_allclose(res.objective, f, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.gap, f - problem.f_star, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.dist, np.linalg.norm(xs - problem.x_star, axis=-1), rtol=1e-12, atol=1e-15)
