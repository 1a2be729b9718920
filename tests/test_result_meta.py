"""SGDResult.meta holds everything needed to repeat the call: rebuilt from it, a second call is identical."""

import numpy as np
import pytest

import optcore
from optcore import schedules
from optcore._fingerprint import problem_fingerprint


def _same(a, b):
    for name in ("x", "steps", "gap", "dist", "objective", "iterates", "diverged"):
        va, vb = getattr(a, name), getattr(b, name)
        assert (va is None) == (vb is None), name
        if va is not None:
            np.testing.assert_array_equal(va, vb, err_msg=name)
            assert va.dtype == vb.dtype


CASES = {
    "constant": dict(step_size=0.05),
    "per_run": dict(step_size=[0.02, 0.05, 0.1], x0=np.ones(3)),
    "per_epoch": dict(step_size=schedules.per_epoch([0.1, 0.05, 0.02]), runs=2, x0=[[1.0, 2, 3], [0, 0, 1]]),
    "inverse_time": dict(step_size=schedules.inverse_time([0.1, 0.2], [0.01, 0.0]), order="wr", batch_size=5),
    "fresh_seed_local": dict(step_size=0.05, seed=None, runs=2, workers=2, mode="local", sync_every=2),
    "generator_explicit": dict(step_size=0.05, seed=np.random.default_rng(1), order=np.arange(12)[::-1].copy()),
    "record_every_iterates": dict(step_size=0.05, order="ig", base_order=np.roll(np.arange(12), 3),
                                  record_every=5, record_iterates=True, record=("objective", "gap")),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", sorted(CASES))
def test_rebuilt_from_meta_reproduces_bit_for_bit(case, dtype):
    problem = optcore.LeastSquares.random(12, 3, seed=4, dtype=dtype)
    kw = dict(order="rr", epochs=3, **CASES[case]) if "order" not in CASES[case] else dict(epochs=3, **CASES[case])
    first = optcore.run_sgd(problem, **kw)
    assert first.meta["problem_sha256"] == problem_fingerprint(problem)
    again = optcore.run_sgd(optcore.LeastSquares.random(12, 3, seed=4, dtype=dtype), **first.call_arguments())
    _same(first, again)
    assert {k: v for k, v in again.meta.items() if k not in ("elapsed_s", "x0")} == {
        k: v for k, v in first.meta.items() if k not in ("elapsed_s", "x0")
    }


def test_meta_stores_step_sizes_compactly():
    p = optcore.LeastSquares.random(12, 3)
    assert optcore.run_sgd(p, epochs=2, step_size=0.1).meta["step_size"] == 0.1
    assert optcore.run_sgd(p, epochs=2, step_size=[0.1, 0.2]).meta["step_size"] == [0.1, 0.2]
    spec = optcore.run_sgd(p, epochs=500, runs=3, step_size=schedules.inverse_time(0.1, 0.5)).meta["step_size"]
    assert spec == {"schedule": "inverse_time", "step_size": 0.1, "decay": 0.5}  # not a (3, 500) table
    assert schedules.to_spec(schedules.from_spec(spec)) == spec


def test_fingerprint_tells_problems_apart():
    p = optcore.LeastSquares.random(12, 3, seed=0)
    assert problem_fingerprint(p) == problem_fingerprint(optcore.LeastSquares.random(12, 3, seed=0))
    assert problem_fingerprint(p) != problem_fingerprint(optcore.LeastSquares.random(12, 3, seed=1))
    assert problem_fingerprint(p) != problem_fingerprint(optcore.LeastSquares.random(12, 3, seed=0, dtype=np.float32))
    assert problem_fingerprint(p) != problem_fingerprint(optcore.LeastSquares.random(12, 3, seed=0, l2=0.1))


def test_table_has_seed_run_id_and_step_size():
    p = optcore.LeastSquares.random(12, 3, dtype=np.float32)
    res = optcore.run_sgd(p, epochs=2, seed=[7, 2**64 - 1], run_ids=[3, 9],
                          step_size=schedules.inverse_time([0.1, 0.2], 0.01))
    df = res.to_pandas()
    assert len(df) == 2 * 3
    assert df["seed"].tolist() == [7] * 3 + [2**64 - 1] * 3 and df["run_id"].tolist() == [3] * 3 + [9] * 3
    # the step that led to step s is step s - 1: eta / (1 + decay (s - 1)), in the problem's dtype
    eta = np.float32([0.1, 0.2])[:, None] / (np.float32(1) + np.float32(0.01) * np.float32([0, 11, 23]))
    np.testing.assert_array_equal(df["step_size"].to_numpy().reshape(2, 3), eta)
    per_epoch = optcore.run_sgd(p, epochs=3, runs=1, step_size=schedules.per_epoch([0.3, 0.2, 0.1])).to_columns()
    np.testing.assert_array_equal(per_epoch["step_size"], np.float32([0.3, 0.3, 0.2, 0.1]))


def test_result_does_not_alias_the_callers_arrays():
    p = optcore.LeastSquares.random(12, 3)
    orders = np.tile(np.arange(12), (1, 2, 1, 1))  # (R, K, M, N) int64: what the engine reads, as given
    x0 = np.ones((2, 3))
    res = optcore.run_sgd(p, order=orders, epochs=2, step_size=0.1, x0=x0, runs=2)
    first = res.order_indices(0).copy()
    orders[:] = 0
    x0[:] = 5.0
    np.testing.assert_array_equal(res.order_indices(0), first)
    assert np.all(res.meta["x0"] == 1.0)
