"""The engine's iterates against the independent NumPy step-by-step implementation, fed the same index streams.

Every order x problem x batch/worker setting x dtype; float64 to 1e-12 relative, float32 to 2e-4.
"""

import numpy as np
import pytest
from conftest import PROBLEM_KINDS, RTOL, make_problem
from sgd_cases import CASES, SETTINGS, components, run_options
from sgd_reference import reference_run

import optcore


def _run_both(problem, order, options, *, decay=False):
    R, K, n = 3, 4, problem.n
    M = options.get("workers", 1)
    N = n // M
    B = options.get("batch_size", 1)
    count = N if options.get("remainder", "partial") == "partial" else (N // B) * B
    kwargs = run_options(problem, order, options, R=R, K=K, seed=7)
    x0, step = kwargs["x0"], kwargs["step_size"]
    schedule = optcore.schedules.inverse_time(step, 0.01) if decay else step
    res = optcore.run_sgd(problem, **dict(kwargs, step_size=schedule))
    idx = optcore.epoch_orders(
        order,
        n,
        K,
        seed=7,
        runs=R,
        workers=M,
        count=count,
        base_order=kwargs.get("base_order"),
        orders=kwargs.get("orders"),
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


@pytest.mark.parametrize(("order", "setting"), CASES)
@pytest.mark.parametrize("kind", PROBLEM_KINDS)
def test_iterates_match_reference(kind, order, setting, dtype):
    options = SETTINGS[setting]
    problem = make_problem(kind, dtype, n=components(setting), workers=options.get("workers", 1))
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
