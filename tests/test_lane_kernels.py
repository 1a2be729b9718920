"""The vector-lane kernels (lanes.hpp: runs that share their order, advanced W at a time, up to 4 chunks of W).

A run's bits must not depend on how many runs share its group or which chunk it sits in: each run of a batch of 40
(float32: a group of 32 in four chunks plus a group of 8; float64 AVX2: groups of 16, 16 and 8) is checked bit for
bit against the same run computed alone (one chunk), for every dimension class of the fixed-dimension kernels,
with and without the ridge term, and against the NumPy step-by-step reference.
"""

import numpy as np
import pytest
from conftest import RTOL
from sgd_reference import reference_run

import optcore

R, K, N = 40, 3, 11


def _problem(kind, d, l2, dtype):
    rng = np.random.default_rng(d)
    A = rng.standard_normal((N, d)) / np.sqrt(d)
    if kind == "least_squares":
        return optcore.LeastSquares(A, rng.standard_normal(N), l2=l2, dtype=dtype)
    labels = rng.choice([-1.0, 1.0], N)
    return (optcore.Logistic if kind == "logistic" else optcore.Exponential)(A, labels, l2=l2, dtype=dtype)


def _orders(order):
    """run_sgd options for three orders every run shares."""
    if order == "explicit":
        return dict(order="explicit", orders=np.random.default_rng(5).integers(0, N, size=(K, N)))
    if order == "incremental":
        return dict(order="incremental", base_order=np.random.default_rng(6).permutation(N))
    return dict(order=order)


def _run(problem, steps, x0, run_ids, **options):
    return optcore.run_sgd(
        problem, epochs=K, step_size=steps, x0=x0, seed=3, run_ids=run_ids, record_iterates=True, **options
    )


@pytest.mark.parametrize("order", ["incremental", "flipflop_ig", "explicit"])
@pytest.mark.parametrize("d", [1, 5, 8, 20, 32, 33])  # 33: beyond the fixed-dimension kernels
@pytest.mark.parametrize("l2", [0.0, 0.05])
@pytest.mark.parametrize("kind", ["least_squares", "logistic", "exponential"])
def test_each_run_of_a_lane_group_equals_the_run_alone(kind, l2, d, order, dtype):
    problem = _problem(kind, d, l2, dtype)
    rng = np.random.default_rng(7)
    steps = rng.uniform(0.05, 0.2, R)
    x0 = rng.standard_normal((R, d)) * 0.1
    batch = _run(problem, steps, x0, np.arange(R), threads=1, **_orders(order))
    assert np.all(np.isfinite(batch.x))
    two_threads = _run(problem, steps, x0, np.arange(R), threads=2, **_orders(order))
    assert np.array_equal(batch.x, two_threads.x)
    for r in (0, 3, 17, 31, 39):  # first lane, last lane of a chunk, inside later chunks and groups
        alone = _run(problem, steps[r : r + 1], x0[r : r + 1], [r], threads=1, **_orders(order))
        assert np.array_equal(alone.x[0], batch.x[r])
        assert np.array_equal(alone.iterates[0], batch.iterates[r])


@pytest.mark.parametrize("d", [1, 5, 8, 20, 32])
@pytest.mark.parametrize("l2", [0.0, 0.05])
@pytest.mark.parametrize("kind", ["least_squares", "logistic", "exponential"])
def test_lane_kernels_give_the_bits_of_the_one_run_kernels(kind, l2, d, dtype):
    # the same explicit order shared (K, N) -> lane kernels, or repeated per run (R, K, N) -> one run at a time
    problem = _problem(kind, d, l2, dtype)
    rng = np.random.default_rng(9)
    steps = rng.uniform(0.05, 0.2, R)
    x0 = rng.standard_normal((R, d)) * 0.1
    shared = rng.integers(0, N, size=(K, N))
    lanes = _run(problem, steps, x0, np.arange(R), order="explicit", orders=shared)
    per_run = _run(problem, steps, x0, np.arange(R), order="explicit", orders=np.broadcast_to(shared, (R, K, N)))
    assert np.array_equal(lanes.x, per_run.x)
    assert np.array_equal(lanes.iterates, per_run.iterates)


@pytest.mark.parametrize("runs", [1, 5, 9, 13, 40])  # one to four chunks in use, and more than one group
@pytest.mark.parametrize("d", [3, 20])
def test_lane_groups_match_the_numpy_reference(runs, d, dtype):
    problem = _problem("least_squares", d, 0.05, dtype)
    rng = np.random.default_rng(8)
    steps = rng.uniform(0.05, 0.2, runs)
    x0 = rng.standard_normal((runs, d))
    res = optcore.run_sgd(
        problem, order="incremental", epochs=K, step_size=steps, x0=x0, seed=1, record_iterates=True, record_every=4
    )
    idx = optcore.epoch_orders("incremental", N, K, seed=1, runs=runs)
    table, decay = optcore.schedules.as_schedule(steps).table(runs, K, np.float64)
    final, iterates = reference_run(
        problem,
        idx,
        table,
        decay,
        x0.astype(dtype).astype(np.float64),
        batch_size=1,
        workers=1,
        mode="minibatch",
        sync_every=N,
        record_every=4,
    )
    scale = max(1.0, float(np.max(np.abs(final))))
    np.testing.assert_allclose(res.x, final, rtol=0, atol=RTOL[dtype] * scale)
    np.testing.assert_allclose(res.iterates, iterates, rtol=0, atol=RTOL[dtype] * scale)
