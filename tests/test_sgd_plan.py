"""optcore.sgd_plan: run_sgd's arguments checked once; every plan.run(x0=, seed=, run_ids=) gives what run_sgd gives
with the same arguments (bits, records, meta but the time), refuses what run_sgd refuses, and hands out results that
share no memory with each other or with the plan."""

import warnings

import numpy as np
import pytest

import optcore
from optcore.nn import MLP, NetworkProblem


def _same_result(a, b):
    for name in ("x", "steps", "epochs", "gap", "dist", "objective", "iterates", "accuracy", "diverged"):
        u, v = getattr(a, name), getattr(b, name)
        assert (u is None) == (v is None), name
        if u is not None:
            assert u.dtype == v.dtype and u.shape == v.shape, name
            np.testing.assert_array_equal(u, v, err_msg=name)
    ma, mb = dict(a.meta), dict(b.meta)
    ma.pop("elapsed_s"), mb.pop("elapsed_s")
    xa, xb = ma.pop("x0"), mb.pop("x0")
    assert ma == mb
    assert (xa is None) == (xb is None)
    if xa is not None:
        np.testing.assert_array_equal(xa, xb)


CASES = [
    dict(order="random_reshuffling", epochs=3, step_size=0.05),
    dict(order="with_replacement", epochs=2, step_size=[0.01, 0.02, 0.03], batch_size=2, record_every=3),
    dict(order="single_shuffle", epochs=2, step_size=0.02, runs=3, workers=2, mode="local", sync_every=2,
         record_iterates=True),
    dict(order="incremental", epochs=2, step_size=optcore.schedules.per_epoch([0.05, 0.02]), runs=3,
         base_order=np.arange(12)[::-1].copy()),
    dict(order=np.random.default_rng(3).permuted(np.tile(np.arange(12), (2, 1)), axis=1), epochs=2, step_size=0.01,
         runs=3),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_plan_runs_equal_run_sgd(case, dtype):
    problem = optcore.LeastSquares.random(12, 4, seed=case, dtype=dtype)
    options = CASES[case]
    plan = optcore.sgd_plan(problem, **options)
    R = plan.runs
    for seed, x0, run_ids in [(0, None, None), (7, np.linspace(-1, 1, 4), None),
                              ([5, 6, 7][:R] if R == 3 else 5, np.ones((R, 4)), np.arange(10, 10 + R))]:
        expected = optcore.run_sgd(problem, **options, seed=seed, x0=x0, run_ids=run_ids)
        _same_result(plan.run(seed=seed, x0=x0, run_ids=run_ids), expected)


def test_plan_trains_a_network_like_run_sgd():
    rng = np.random.default_rng(0)
    net = MLP([3, 5, 1], activation="relu")
    problem = NetworkProblem(net, rng.standard_normal((16, 3)), rng.standard_normal(16))
    x0 = net.init(2, seed=1)
    plan = optcore.sgd_plan(problem, epochs=2, step_size=0.05, runs=2, batch_size=4)
    _same_result(plan.run(x0=x0, seed=3), optcore.run_sgd(problem, epochs=2, step_size=0.05, runs=2, batch_size=4,
                                                         x0=x0, seed=3))


def test_one_epoch_per_call_continues_like_a_loop_of_run_sgd():
    problem = optcore.LeastSquares.random(10, 3, seed=2)
    plan = optcore.sgd_plan(problem, order="rr", epochs=1, step_size=0.03)
    x_plan = x_loop = None
    for epoch in range(5):
        x_plan = plan.run(x0=x_plan, seed=epoch).x[0]
        x_loop = optcore.run_sgd(problem, order="rr", epochs=1, step_size=0.03, x0=x_loop, seed=epoch).x[0]
    np.testing.assert_array_equal(x_plan, x_loop)


def test_results_share_no_memory():
    problem = optcore.LeastSquares.random(8, 2, seed=0)
    plan = optcore.sgd_plan(problem, epochs=2, step_size=[0.01, 0.02], base_order=None)
    x0 = np.ones(2)
    a, b = plan.run(x0=x0), plan.run(x0=x0)
    for name in ("x", "steps", "epochs", "gap", "dist"):
        assert not np.shares_memory(getattr(a, name), getattr(b, name)), name
    a.meta["step_size"].append(9.0)
    a.meta["record"].append("objective")
    a.meta["x0"][0] = 5.0
    c = plan.run(x0=x0)
    assert c.meta["step_size"] == [0.01, 0.02] and c.meta["record"] == ["gap", "dist"]
    np.testing.assert_array_equal(c.meta["x0"], x0)
    _same_result(b, c)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (dict(x0=np.ones(3)), ValueError, "x0 must have shape"),
        (dict(x0=np.ones((3, 2))), ValueError, "x0"),  # run_sgd: "the number of runs is ambiguous ... x0"
        (dict(x0=[np.nan, 1.0]), ValueError, "x0 must be finite"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(seed=[1, 2, 3]), ValueError, "seed"),
        (dict(run_ids=[0]), ValueError, "run_ids"),
        (dict(seed=True), TypeError, "seed"),
    ],
)
def test_bad_per_call_arguments_are_refused_like_run_sgd(call, error, match):
    problem = optcore.LeastSquares.random(8, 2, seed=0)
    plan = optcore.sgd_plan(problem, epochs=1, step_size=0.01, runs=2)
    with pytest.raises(error, match=match):
        plan.run(**call)
    with pytest.raises(error, match=match):
        optcore.run_sgd(problem, epochs=1, step_size=0.01, runs=2, **call)


@pytest.mark.parametrize(
    ("options", "match"),
    [(dict(epochs=0), "epochs"), (dict(batch_size=9), "batch_size"), (dict(step_size=-1.0), "step_size"),
     (dict(order="nope"), "order"), (dict(record=["accuracy"]), "accuracy")],
)
def test_bad_plan_arguments_are_refused_when_planned(options, match):
    problem = optcore.LeastSquares.random(8, 2, seed=0)
    with pytest.raises(ValueError, match=match):
        optcore.sgd_plan(problem, **{"epochs": 1, "step_size": 0.01, **options})


def test_divergence_is_reported_on_every_call():
    problem = optcore.LeastSquares.random(8, 2, seed=0)
    plan = optcore.sgd_plan(problem, epochs=30, step_size=[0.01, 50.0])
    for _ in range(2):
        with pytest.warns(optcore.DivergenceWarning, match="1 of 2 runs diverged"):
            result = plan.run()
        assert result.diverged.tolist() == [False, True] and np.isnan(result.x[1]).all()
        assert np.isfinite(result.x[0]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not optcore.sgd_plan(problem, epochs=30, step_size=0.01).run().diverged.any()


def test_plan_runs_a_problem_given_by_a_python_gradient():
    problem = optcore.LeastSquares.random(12, 3, seed=4)
    A, b = problem.A, problem.b

    def gradient(X, idx):  # the batch mean of the gradients of 1/2 (a_i x - b_i)^2, each run its own batch
        a = A[idx]  # (runs, batch, d)
        r = np.einsum("rbd,rd->rb", a, X) - b[idx]
        return np.einsum("rb,rbd->rd", r, a) / idx.shape[1]

    user = optcore.UserProblem(gradient, problem.n, problem.dim)
    plan = optcore.sgd_plan(user, epochs=2, step_size=0.05, runs=2, batch_size=3)
    _same_result(plan.run(seed=1), optcore.run_sgd(user, epochs=2, step_size=0.05, runs=2, batch_size=3, seed=1))
