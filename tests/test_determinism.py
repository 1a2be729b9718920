"""Same seed, same numbers: whatever the thread count, and for a run alone or inside a batch."""

import numpy as np
import pytest
from conftest import PROBLEM_KINDS, make_problem

import optcore

SETTINGS = [
    dict(order="rr"),
    dict(order="ig"),  # all runs share the order: the vector-lane kernels
    dict(order="flipflop_ss"),
    dict(order="wr", batch_size=3),
    dict(order="ss", workers=2, mode="local", sync_every=2),
    dict(order="syncshuf", workers=2, batch_size=2),
]


def _run(problem, **kw):
    opts = dict(
        epochs=3, step_size=np.linspace(0.01, 0.05, 13), x0=np.ones(problem.dim), seed=42, record_iterates=True
    )  # (every problem of make_problem converges from x0 = 1 at d = 3)
    opts.update(kw)
    return optcore.run_sgd(problem, **opts)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
@pytest.mark.parametrize("kind", PROBLEM_KINDS)
def test_thread_count_does_not_change_results(kind, setting, dtype):
    problem = make_problem(kind, dtype)
    one = _run(problem, threads=1, **setting)
    for threads in (2, 3, 13):
        other = _run(problem, threads=threads, **setting)
        assert np.array_equal(one.x, other.x)  # bitwise
        assert np.array_equal(one.iterates, other.iterates)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
@pytest.mark.parametrize("kind", PROBLEM_KINDS)
def test_run_alone_equals_run_in_batch(kind, setting, dtype):
    problem = make_problem(kind, dtype)
    batch = _run(problem, threads=2, **setting)
    steps = np.linspace(0.01, 0.05, 13)
    for r in (0, 5, 12):
        alone = _run(problem, threads=1, step_size=steps[r : r + 1], run_ids=[r], **setting)
        assert np.array_equal(alone.x[0], batch.x[r])
        assert np.array_equal(alone.iterates[0], batch.iterates[r])


def test_replay_returns_the_visited_order():
    problem = optcore.LeastSquares.random(10, 2, seed=1)
    res = optcore.run_sgd(problem, order="rr", epochs=2, step_size=0.1, runs=4, seed=9)
    idx = res.order_indices(2)
    np.testing.assert_array_equal(idx, optcore.epoch_orders("rr", 10, 2, seed=9, runs=4)[2])
    # feeding the replayed order back as an explicit order reproduces the run bit for bit
    again = optcore.run_sgd(problem, order=idx[None, :, :, :], epochs=2, step_size=0.1, runs=1, seed=0)
    assert np.array_equal(again.x[0], res.x[2])


def test_same_seed_same_numbers_different_seed_different():
    problem = optcore.LeastSquares.random(20, 3, seed=1)
    a = optcore.run_sgd(problem, order="rr", epochs=2, step_size=0.05, runs=3, seed=1)
    b = optcore.run_sgd(problem, order="rr", epochs=2, step_size=0.05, runs=3, seed=1)
    c = optcore.run_sgd(problem, order="rr", epochs=2, step_size=0.05, runs=3, seed=2)
    assert np.array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)
    assert a.meta["seeds"] == [1, 1, 1] and a.meta["run_ids"] == [0, 1, 2]


def test_seed_none_is_recorded_and_replayable():
    problem = optcore.LeastSquares.random(20, 3, seed=1)
    a = optcore.run_sgd(problem, order="rr", epochs=2, step_size=0.05, runs=2, seed=None)
    b = optcore.run_sgd(problem, order="rr", epochs=2, step_size=0.05, runs=2, seed=a.meta["seeds"])
    assert np.array_equal(a.x, b.x)


@pytest.mark.skipif(not optcore._core.isa_info()["avx2_used"], reason="this build or CPU has no AVX2 copy of the loops")
@pytest.mark.parametrize("kind", PROBLEM_KINDS)
@pytest.mark.parametrize("dim", [1, 3, 8, 20, 37])
def test_avx2_and_portable_copies_give_the_same_bits(kind, dim, dtype, monkeypatch):
    problem = make_problem(kind, dtype, d=1 if kind == "lower_bound" else dim)
    results = {}
    x0 = np.zeros(problem.dim)  # a start from which no run diverges
    for isa in ("portable", "avx2"):
        monkeypatch.setenv("OPTCORE_ISA", isa)
        steps = np.linspace(0.01, 0.05, 13) * min(1.0, 3.0 / problem.dim)  # |a_i|^2 grows like d
        results[isa] = [_run(problem, x0=x0, step_size=steps, **setting) for setting in SETTINGS]
    for a, b in zip(results["portable"], results["avx2"], strict=True):
        assert np.array_equal(a.x, b.x)
        assert np.array_equal(a.iterates, b.iterates)


def test_concurrent_python_threads_get_the_same_results():
    # the loop releases the GIL: calls from several Python threads run at once and must not interfere
    from concurrent.futures import ThreadPoolExecutor

    problem = optcore.LeastSquares.random(200, 5, seed=3)

    def one(seed):
        return optcore.run_sgd(problem, order="rr", epochs=5, step_size=0.01, runs=16, seed=seed, threads=1).x

    expected = [one(s) for s in range(8)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(one, range(8)))
    for a, b in zip(expected, got, strict=True):
        assert np.array_equal(a, b)
