"""The fast paths that cut the per-call cost of run_sgd and the MLP methods (bench/bench_overhead.py) keep every
result and every check: the problem fingerprint is cached on the problem but recomputed when its inputs are other
objects; a float step size gives the same step table as the general path and is refused where that path refuses
it; plain ints skip the slow checks but not the bounds; arrays already in the right dtype are not copied but are
still checked for finiteness. run_sgd reuses the plan of an identical earlier call only while the problem's
attributes are the same objects, and the type of every option and the environment are part of the key; the
prepared core call and the MLP methods' usual call check in C++ what the Python layer checked, and anything that
fails there goes through the general path, so every error and warning is the one it always was."""

import hashlib

import numpy as np
import pytest

import optcore
from optcore import _fingerprint
from optcore._validation import float_array, integer
from optcore.nn import MLP, NonFiniteWarning
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


# --- run_sgd's plan cache (optcore._call_cache) and the prepared core call -------------------------------------


def _result_bits(result):
    """Every array of a result as (dtype, shape, bytes), and its meta without the time."""
    arrays = {name: None if getattr(result, name) is None else
              (getattr(result, name).dtype.str, getattr(result, name).shape, getattr(result, name).tobytes())
              for name in ("x", "steps", "epochs", "gap", "dist", "objective", "iterates", "accuracy", "diverged")}
    meta = dict(result.meta)
    meta.pop("elapsed_s")
    x0 = meta.pop("x0")
    return arrays, meta, None if x0 is None else x0.tobytes()


def _count_plans(monkeypatch):
    calls = []
    real = optcore.sgd._plan
    monkeypatch.setattr(optcore.sgd, "_plan", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_repeated_calls_reuse_the_plan_and_give_the_same_result(monkeypatch):
    problem = optcore.LeastSquares.random(10, 3, seed=0)
    options = dict(order="rr", epochs=2, step_size=0.02, runs=2, record=("gap", "objective"), record_iterates=True)
    fresh = optcore.sgd_plan(problem, **options).run(seed=4)
    planned = _count_plans(monkeypatch)
    first = optcore.run_sgd(problem, **options, seed=4)
    second = optcore.run_sgd(problem, **options, seed=4)
    assert len(planned) == 1  # the second call found the first one's plan
    assert _result_bits(first) == _result_bits(second) == _result_bits(fresh)
    assert not np.shares_memory(first.gap, second.gap) and not np.shares_memory(first.x, second.x)
    x0 = np.ones((2, 3))  # the runs x0 implies (its rows) are part of the key: one more plan, then reused
    first, second = (optcore.run_sgd(problem, **options, x0=x0) for _ in range(2))
    assert len(planned) == 2
    assert _result_bits(first) == _result_bits(second) == _result_bits(optcore.sgd_plan(problem, **options).run(x0=x0))


def test_a_rebound_attribute_makes_a_new_plan(monkeypatch):
    problem = optcore.LeastSquares.random(10, 3, seed=0)
    optcore.run_sgd(problem, epochs=1, step_size=0.01)
    planned = _count_plans(monkeypatch)
    problem.A = problem.A * 2  # data, minimizer and fingerprint change together in a new problem
    problem.b = problem.b * 2
    problem.x_star, problem.f_star, problem.hessian = problem.x_star, 4 * problem.f_star, 4 * problem.hessian
    got = optcore.run_sgd(problem, epochs=1, step_size=0.01)
    problem.l2 = problem.l2  # the same object again: still valid
    optcore.run_sgd(problem, epochs=1, step_size=0.01)
    assert len(planned) == 1
    problem.l2 = float(len(planned) - 1)  # an equal value (0.0), but another object: planned again
    optcore.run_sgd(problem, epochs=1, step_size=0.01)
    assert len(planned) == 2
    expected = optcore.run_sgd(optcore.LeastSquares(problem.A, problem.b), epochs=1, step_size=0.01)
    assert _result_bits(got)[0] == _result_bits(expected)[0]
    assert got.meta["problem_sha256"] == expected.meta["problem_sha256"] != optcore.run_sgd(
        optcore.LeastSquares.random(10, 3, seed=0), epochs=1, step_size=0.01).meta["problem_sha256"]


@pytest.mark.parametrize(("options", "error"), [(dict(epochs=True), TypeError), (dict(epochs=1.0), TypeError),
                                                 (dict(runs=True), TypeError), (dict(batch_size=2.0), TypeError)])
def test_a_cached_call_does_not_let_equal_values_of_other_types_through(options, error):
    problem = optcore.LeastSquares.random(10, 3, seed=0)
    optcore.run_sgd(problem, epochs=1, step_size=0.01, runs=1, batch_size=2)
    with pytest.raises(error):
        optcore.run_sgd(problem, **{"epochs": 1, "step_size": 0.01, "runs": 1, "batch_size": 2, **options})


def test_the_environment_is_read_on_every_call(monkeypatch):
    problem = optcore.LeastSquares.random(10, 3, seed=0)
    optcore.run_sgd(problem, epochs=1, step_size=0.01, runs=3)
    monkeypatch.setenv("OPTCORE_NUM_THREADS", "2")
    assert optcore.run_sgd(problem, epochs=1, step_size=0.01, runs=3).meta["threads"] == 2
    monkeypatch.setenv("OPTCORE_ISA", "no_such_copy")
    with pytest.raises(ValueError, match="no_such_copy"):
        optcore.run_sgd(problem, epochs=1, step_size=0.01, runs=3)


def test_the_core_refuses_what_it_refused_after_the_per_call_checks(monkeypatch):
    problem = optcore.LeastSquares.random(10, 3, seed=0)
    monkeypatch.setenv("OPTCORE_ISA", "no_such_copy")
    plan = optcore.sgd_plan(problem, epochs=1, step_size=0.01)  # planned: the copy is looked up when it runs
    for run in (plan.run, lambda **kw: optcore.run_sgd(problem, epochs=1, step_size=0.01, **kw)):
        with pytest.raises(ValueError, match="x0 must be finite"):
            run(x0=[np.nan, 0.0, 0.0])
        with pytest.raises(ValueError, match="isa='no_such_copy'"):
            run()


def test_a_problem_pickles_and_copies_without_its_plans():
    import copy
    import pickle

    from optcore._call_cache import ATTRIBUTE

    problem = optcore.LeastSquares.random(10, 3, seed=0)
    first = optcore.run_sgd(problem, epochs=1, step_size=0.01)
    assert getattr(problem, ATTRIBUTE).entries  # the plan is kept on the problem
    for other in (pickle.loads(pickle.dumps(problem)), copy.deepcopy(problem)):
        assert not getattr(other, ATTRIBUTE).entries
        assert _result_bits(optcore.run_sgd(other, epochs=1, step_size=0.01))[0] == _result_bits(first)[0]


def test_the_prepared_core_call_checks_its_arguments():
    from optcore import _core

    plan = optcore.sgd_plan(optcore.LeastSquares.random(10, 3, seed=0), epochs=1, step_size=0.01, runs=2)
    plan.run()  # prepares the compiled call
    prepared = plan._prepared
    keys, ids = np.zeros(2, np.uint64), np.arange(2, dtype=np.uint32)
    with pytest.raises(ValueError, match=r"'x' must have shape \(2, 3\)"):
        prepared.run(np.zeros((1, 3)), keys, ids)
    with pytest.raises(TypeError):
        prepared.run(np.zeros((2, 3), np.float32), keys, ids)
    with pytest.raises(TypeError, match="'seeds' must have dtype uint64"):
        prepared.run(np.zeros((2, 3)), keys.astype(np.int64), ids)
    with pytest.raises(ValueError, match="'run_ids' has shape"):
        prepared.run(np.zeros((2, 3)), keys, ids[:1])
    plan = optcore.sgd_plan(optcore.LeastSquares.random(10, 3, seed=0), epochs=1, step_size=0.01, runs=2)
    with pytest.raises(ValueError, match="unknown record 'nope'"):
        _core.prepare_sgd("least_squares", plan._data, plan._run_arrays, plan._spec, plan._rec_inputs, ["nope"],
                          False, 2, 3, "float64")
    records, status = prepared.run(np.zeros((2, 3)), keys, ids)
    assert status == 0 and set(records) == {"diverged", "gap", "dist"} and records["gap"].shape == (2, 2)


# --- MLP evaluations: the checks done by the core on the usual call ---------------------------------------------


def _general(net, method, params, X, Y, *more):
    """The same evaluation through the general path (a list of params is converted there)."""
    args = (list(params) if params.ndim == 1 else [list(p) for p in params], X) + (() if Y is None else (Y,))
    return getattr(net, method)(*args, *more, threads=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", ["squared", "logistic", "softmax_ce"])
@pytest.mark.parametrize("method", ["loss_and_grad", "loss_value", "accuracy", "forward", "per_example_grads", "hvp",
                                    "hessian"])
def test_mlp_usual_call_gives_the_general_paths_bits(dtype, loss, method):
    rng = np.random.default_rng(1)
    net = MLP([3, 4, 2 if loss == "softmax_ce" else 1], activation="tanh", loss=loss, dtype=dtype)
    X = rng.standard_normal((8, 3)).astype(dtype)
    Y = {"squared": rng.standard_normal(8), "logistic": np.sign(rng.standard_normal(8)),
         "softmax_ce": rng.integers(0, 2, 8).astype(float)}[loss].astype(dtype)
    v = rng.standard_normal((3, net.n_params)).astype(dtype)
    for params, more in [(net.init(1, seed=0)[0], (v[0],)), (net.init(3, seed=0), (v,)),
                         (net.init(3, seed=0), (v[1],))]:  # hvp: a direction, one per network, one for all
        more = more if method == "hvp" else ()
        got = getattr(net, method)(params, X, *(() if method == "forward" else (Y,)), *more, threads=1)
        expected = _general(net, method, params, X, None if method == "forward" else Y, *more)
        for a, b in zip(got if isinstance(got, tuple) else (got,), expected if isinstance(expected, tuple) else
                        (expected,), strict=True):
            assert type(a) is type(b) and np.asarray(a).dtype == np.asarray(b).dtype
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


def test_mlp_usual_call_keeps_every_check():
    net = MLP([3, 4, 1], activation="tanh")
    params, X, Y = net.init(1, seed=0)[0], np.ones((8, 3)), np.ones(8)
    bad_x = X.copy()
    bad_x[2, 1] = np.inf
    with pytest.raises(ValueError, match="X must be finite, but contains inf"):
        net.loss_and_grad(params, bad_x, Y)
    with pytest.raises(ValueError, match="params must be finite, but contains NaN"):
        net.loss_and_grad(np.full_like(params, np.nan), X, Y)
    with pytest.raises(ValueError, match="Y must be finite"):
        net.loss_and_grad(params, X, np.full(8, np.nan))
    with pytest.raises(ValueError, match=r"Y must hold labels in \{-1, \+1\}"):
        MLP([3, 4, 1], loss="logistic").loss_and_grad(params, X, Y * 2)
    with pytest.raises(ValueError, match="Y must hold class indices in 0..1"):
        MLP([3, 4, 2], loss="softmax_ce").loss_value(MLP([3, 4, 2]).init(1)[0], X, np.full(8, 0.5))
    with pytest.raises(ValueError, match="threads must be >= 1"):
        net.loss_and_grad(params, X, Y, threads=0)
    with pytest.raises(ValueError, match="v must be finite"):
        net.hvp(params, X, Y, np.full_like(params, np.nan))
    with pytest.raises(ValueError, match="v must have shape"):
        net.hvp(params, X, Y, params[:-1].copy())
    with pytest.warns(NonFiniteWarning, match=r"MLP\.loss_and_grad: the result is not finite .* 1 of 1 networks"):
        loss, _ = net.loss_and_grad(params * 1e160, X, Y)
    assert not np.isfinite(loss)


def test_mlp_fixed_data_follow_rebound_attributes():
    net = MLP([3, 4, 1], activation="tanh")
    params, X, Y = net.init(1, seed=0)[0], np.ones((8, 3)), np.ones(8)
    before = net.loss_value(params, X, Y)
    net.activation = "relu"  # not a supported change, but a rebound attribute is seen
    assert net.loss_value(params, X, Y) == MLP([3, 4, 1], activation="relu").loss_value(params, X, Y) != before
