"""The fast paths that cut the per-call cost of run_sgd and the MLP methods (bench/bench_overhead.py) keep every
result and every check: the problem fingerprint is cached on the problem but recomputed when its inputs are other
objects; a float step size gives the same step table as the general path and is refused where that path refuses
it; plain ints skip the slow checks but not the bounds; arrays already in the right dtype are not copied but are
still checked for finiteness."""

import hashlib

import numpy as np
import pytest

import optcore
from optcore import _fingerprint
from optcore._validation import float_array, integer
from optcore.schedules import StepSchedule, as_schedule


def test_fingerprint_is_cached_and_follows_replaced_arrays(monkeypatch):
    problem = optcore.LeastSquares.random(12, 3, seed=0)
    first = _fingerprint.problem_fingerprint(problem)
    calls = []
    real = hashlib.sha256
    monkeypatch.setattr(_fingerprint.hashlib, "sha256", lambda *a: calls.append(1) or real(*a))
    assert _fingerprint.problem_fingerprint(problem) == first and not calls  # cached: no hashing
    problem.A = problem.A.copy()  # another object, same values: hashed again, same digest
    assert _fingerprint.problem_fingerprint(problem) == first and len(calls) == 1
    problem.A = problem.A * 2  # other values: another digest
    assert _fingerprint.problem_fingerprint(problem) != first
    problem.l2 = 0.5  # a scalar input
    assert len({_fingerprint.problem_fingerprint(problem), first}) == 2 and len(calls) == 3


def test_run_meta_names_the_same_fingerprint_on_every_call():
    problem = optcore.LeastSquares.random(10, 2, seed=1)
    a = optcore.run_sgd(problem, epochs=1, step_size=0.01)
    b = optcore.run_sgd(problem, epochs=1, step_size=0.01)
    assert a.meta["problem_sha256"] == b.meta["problem_sha256"] == _fingerprint.problem_fingerprint(
        optcore.LeastSquares.random(10, 2, seed=1)
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("step", [0.01, 3.0, 1e-30])
def test_float_step_fast_path_gives_the_general_table(dtype, step):
    fast = as_schedule(step)
    general = StepSchedule("constant", np.asarray(step), np.zeros(()))
    for a, b in zip(fast.compact_table(4, 3, dtype), general.compact_table(4, 3, dtype), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("step", "match"), [(1e-50, "must be > 0"), (1e39, "must be finite")])
def test_float_step_fast_path_refuses_what_float32_cannot_hold(step, match):
    problem = optcore.LeastSquares.random(6, 2, seed=0, dtype=np.float32)
    with pytest.raises(ValueError, match=match):
        optcore.run_sgd(problem, epochs=1, step_size=step)


@pytest.mark.parametrize("step", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_float_steps_are_still_refused(step):
    with pytest.raises(ValueError, match="step_size"):
        as_schedule(step)


def test_plain_int_fast_path_keeps_the_bounds():
    assert integer(5, "k", minimum=1, maximum=9) == 5
    with pytest.raises(ValueError, match="k must be >= 1"):
        integer(0, "k", minimum=1)
    with pytest.raises(ValueError, match="k must be <= 9"):
        integer(10, "k", maximum=9)
    with pytest.raises(TypeError, match="bool"):
        integer(True, "k")


def test_arrays_in_the_right_dtype_are_not_copied_but_still_checked():
    a = np.arange(6.0).reshape(2, 3)
    assert float_array(a, "a", np.float64, ndim=2) is a
    a[0, 1] = np.nan
    with pytest.raises(ValueError, match="a must be finite, but contains NaN"):
        float_array(a, "a", np.float64)
    with pytest.raises(ValueError, match="must have ndim"):
        float_array(np.zeros(3), "a", np.float64, ndim=2)
