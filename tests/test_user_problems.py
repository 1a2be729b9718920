"""Problems given by a Python gradient (optcore.UserProblem): the engine's NumPy loop against the compiled kinds.

A callback that computes least squares must give the built-in LeastSquares results -- final iterates, iterates,
gap, distance and objective records -- to 1e-12 in float64 for every order, batch, worker and record setting.
"""

import warnings

import numpy as np
import pytest
from conftest import make_problem
from sgd_cases import CASES, SETTINGS, components, run_options

import optcore
from optcore.problems import Problem


def least_squares_callback(problem: optcore.LeastSquares, **known) -> optcore.UserProblem:
    """The built-in least-squares problem again, as NumPy functions vectorized over runs."""
    A, b, l2 = problem.A.astype(np.float64), problem.b.astype(np.float64), problem.l2

    def gradient(X, idx):
        a = A[idx]  # (rows, batch, d)
        r = np.einsum("rbd,rd->rb", a, X) - b[idx]
        return np.einsum("rb,rbd->rd", r, a) / idx.shape[1] + l2 * X

    def value(X, idx):
        r = np.einsum("rbd,rd->rb", A[idx], X) - b[idx]
        return 0.5 * np.mean(r * r, axis=1) + 0.5 * l2 * np.sum(X * X, axis=1)

    return optcore.UserProblem(gradient, problem.n, problem.dim, value=value, dtype=problem.dtype, **known)


def _known(problem, hessian=True):
    known = dict(x_star=problem.x_star, f_star=problem.f_star)
    if hessian:
        known["hessian"] = problem.hessian
    return known


def _options(problem, order, setting, **kw):
    return dict(run_options(problem, order, SETTINGS[setting], **kw), record=("gap", "dist", "objective"))


def _assert_same_results(user, builtin, rtol):
    for name in ("x", "iterates", "gap", "dist", "objective"):
        actual, expected = getattr(user, name), getattr(builtin, name)
        assert (actual is None) == (expected is None), name
        if expected is None:
            continue
        scale = max(1.0, float(np.max(np.abs(expected))))
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=name)
    np.testing.assert_array_equal(user.steps, builtin.steps)
    np.testing.assert_array_equal(user.diverged, builtin.diverged)


@pytest.mark.parametrize(("order", "setting"), CASES)
def test_callback_least_squares_equals_builtin(order, setting):
    problem = make_problem("least_squares", np.float64, n=components(setting))
    options = _options(problem, order, setting)
    builtin = optcore.run_sgd(problem, **options)
    user = optcore.run_sgd(least_squares_callback(problem, **_known(problem)), **options)
    _assert_same_results(user, builtin, 1e-12)
    assert user.meta["problem"] == "user" and user.meta["order"] == builtin.meta["order"]


@pytest.mark.parametrize(
    "schedule",
    [
        lambda: optcore.schedules.inverse_time(np.array([0.05, 0.1, 0.02]), 0.01),
        lambda: optcore.schedules.per_epoch([0.08, 0.04, 0.02, 0.01]),
        lambda: 0.03,
    ],
    ids=["inverse_time", "per_epoch", "constant"],
)
@pytest.mark.parametrize("setting", ["sgd", "batch5_partial", "local_M2_sync3"])
def test_step_size_schedules(schedule, setting):
    problem = make_problem("least_squares", np.float64)
    options = _options(problem, "random_reshuffling", setting)
    options.update(step_size=schedule())
    builtin = optcore.run_sgd(problem, **options)
    user = optcore.run_sgd(least_squares_callback(problem, **_known(problem)), **options)
    _assert_same_results(user, builtin, 1e-12)


def test_gap_from_the_objective_without_hessian():
    """Without the Hessian the gap is F(x) - F*, as the compiled loop computes it for a non-quadratic problem."""
    problem = make_problem("least_squares", np.float64)
    options = _options(problem, "random_reshuffling", "batch5_partial")
    builtin = optcore.run_sgd(problem, **options)
    user = optcore.run_sgd(least_squares_callback(problem, **_known(problem, hessian=False)), **options)
    np.testing.assert_allclose(user.x, builtin.x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(user.gap, user.objective - problem.f_star, rtol=0, atol=1e-15)
    np.testing.assert_allclose(user.gap, builtin.gap, rtol=1e-9, atol=1e-12)  # F - F* cancels some digits


@pytest.mark.parametrize("setting", ["sgd", "batch5_partial", "minibatch_M2_B2", "local_M2_sync3"])
def test_float32(setting):
    problem = make_problem("least_squares", np.float32)
    options = _options(problem, "random_reshuffling", setting)
    builtin = optcore.run_sgd(problem, **options)
    user = optcore.run_sgd(least_squares_callback(problem, **_known(problem)), **options)
    assert user.x.dtype == np.float32 and user.objective.dtype == np.float32
    _assert_same_results(user, builtin, 2e-4)


def test_many_runs_with_per_run_steps_and_run_ids():
    problem = make_problem("least_squares", np.float64, n=20, d=4)
    options = dict(order="rr", epochs=3, step_size=np.linspace(0.01, 0.06, 40), seed=[5] * 40,
                   run_ids=np.arange(100, 140), batch_size=3, record_every=4)
    builtin = optcore.run_sgd(problem, **options)
    user = optcore.run_sgd(least_squares_callback(problem, **_known(problem)), **options)
    _assert_same_results(user, builtin, 1e-12)


def test_divergence_is_handled_as_in_the_compiled_loop():
    problem = make_problem("least_squares", np.float64)
    steps = np.array([0.05, 10.0, 50.0])  # the last two diverge, at different epochs
    options = dict(order="rr", epochs=80, step_size=steps, seed=2, record_iterates=True, record_every=5)
    with pytest.warns(optcore.DivergenceWarning):
        builtin = optcore.run_sgd(problem, **options)
    with pytest.warns(optcore.DivergenceWarning):
        user = optcore.run_sgd(least_squares_callback(problem, **_known(problem)), **options)
    assert list(builtin.diverged) == [False, True, True]
    np.testing.assert_array_equal(user.diverged, builtin.diverged)
    # NaN after the flag; before it, overflowing records are inf or NaN depending on the order of the sums
    np.testing.assert_array_equal(np.isfinite(user.gap), np.isfinite(builtin.gap))
    np.testing.assert_array_equal(np.isnan(user.iterates), np.isnan(builtin.iterates))
    ok = np.isfinite(builtin.gap)
    np.testing.assert_allclose(user.gap[ok], builtin.gap[ok], rtol=1e-9)
    np.testing.assert_allclose(user.x[0], builtin.x[0], rtol=1e-12)


class CustomLeastSquares(Problem):
    """A Problem subclass giving the engine a vectorized gradient and an objective by methods."""

    kind = "custom"

    def __init__(self, A, b):
        super().__init__(A.shape[0], A.shape[1], np.float64)
        self.A, self.b = A, b

    def batch_gradient(self, X, idx):
        a = self.A[idx]
        r = np.einsum("rbd,rd->rb", a, X) - self.b[idx]
        return np.einsum("rb,rbd->rd", r, a) / idx.shape[1]

    def objective(self, x):
        r = np.asarray(x) @ self.A.T - self.b
        return 0.5 * np.mean(r * r, axis=-1)


def test_problem_subclass_with_batch_gradient():
    rng = np.random.default_rng(3)
    A, b = rng.standard_normal((10, 3)), rng.standard_normal(10)
    options = dict(order="ss", epochs=3, step_size=0.05, runs=2, batch_size=3, record="objective")
    builtin = optcore.run_sgd(optcore.LeastSquares(A, b), **options)
    custom = optcore.run_sgd(CustomLeastSquares(A, b), **options)
    np.testing.assert_allclose(custom.x, builtin.x, rtol=1e-12)
    np.testing.assert_allclose(custom.objective, builtin.objective, rtol=1e-12)
    assert custom.meta["problem"] == "custom"


def test_problem_subclass_without_kernel_or_callback_says_what_to_give():
    class Nothing(Problem):
        pass

    with pytest.raises(TypeError, match=r"batch_gradient\(self, X, idx\).*optcore.UserProblem"):
        optcore.run_sgd(Nothing(4, 2, np.float64), epochs=1, step_size=0.1)


def test_numpy_methods_come_from_the_callbacks():
    problem = make_problem("least_squares", np.float64)
    user = least_squares_callback(problem)
    x = np.random.default_rng(0).standard_normal((2, 5, problem.dim))
    np.testing.assert_allclose(user.objective(x), problem.objective(x), rtol=1e-13)
    np.testing.assert_allclose(user.gradient(x[0, 0]), problem.gradient(x[0, 0]), rtol=1e-13)
    np.testing.assert_allclose(user.component_gradient(4, x[0, 0]), problem.component_gradient(4, x[0, 0]), rtol=1e-13)
    assert user.f_star is None and user.x_star is None
    # f_star defaults to F(x_star) when both x_star and value are known
    assert least_squares_callback(problem, x_star=problem.x_star).f_star == pytest.approx(problem.f_star, rel=1e-14)


def test_without_value_records_what_it_can():
    problem = make_problem("least_squares", np.float64)
    user = optcore.UserProblem(least_squares_callback(problem).batch_gradient, problem.n, problem.dim)
    res = optcore.run_sgd(user, epochs=2, step_size=0.05)
    assert res.objective is None and res.gap is None and res.dist is None
    with pytest.raises(ValueError, match="needs the objective.*value="):
        optcore.run_sgd(user, epochs=2, step_size=0.05, record="objective")
    known = optcore.UserProblem(user.batch_gradient, problem.n, problem.dim, x_star=problem.x_star)
    res = optcore.run_sgd(known, epochs=2, step_size=0.05, seed=1)
    np.testing.assert_allclose(res.dist, optcore.run_sgd(problem, epochs=2, step_size=0.05, seed=1).dist, rtol=1e-12)
    assert res.gap is None


def test_bad_callbacks_and_arguments():
    problem = make_problem("least_squares", np.float64)
    with pytest.raises(TypeError, match="gradient must be a callable"):
        optcore.UserProblem(None, 3, 2)
    with pytest.raises(TypeError, match="value must be a callable"):
        optcore.UserProblem(lambda X, idx: X, 3, 2, value=1.0)
    with pytest.raises(ValueError, match="x_star must have shape"):
        optcore.UserProblem(lambda X, idx: X, 3, 2, x_star=np.zeros(3))
    with pytest.raises(ValueError, match="give x_star too"):
        optcore.UserProblem(lambda X, idx: X, 3, 2, hessian=np.eye(2))
    with pytest.raises(ValueError, match="n must be >= 1"):
        optcore.UserProblem(lambda X, idx: X, 0, 2)
    wrong = optcore.UserProblem(lambda X, idx: X[:, :1], problem.n, problem.dim)
    with pytest.raises(ValueError, match=r"returned shape \(1, 1\); expected \(1, 3\)"):
        optcore.run_sgd(wrong, epochs=1, step_size=0.1)


def test_callback_gets_read_only_inputs_of_the_documented_shapes():
    problem = make_problem("least_squares", np.float64)
    seen = []

    def gradient(X, idx):
        seen.append((X.shape, idx.shape, X.dtype, idx.dtype))
        with pytest.raises(ValueError, match="read-only"):
            X[0, 0] = 1.0
        with pytest.raises(ValueError, match="read-only"):
            idx[0, 0] = 1
        return least_squares_callback(problem).batch_gradient(X, idx)

    user = optcore.UserProblem(gradient, problem.n, problem.dim, dtype=np.float64)
    optcore.run_sgd(user, epochs=1, step_size=0.01, runs=4, batch_size=5, workers=2, mode="local")
    # 6 components per worker: batches of 5 then 1; each row one worker's copy of one run
    assert seen == [((8, 3), (8, 5), np.float64, np.int64), ((8, 3), (8, 1), np.float64, np.int64)]
    seen.clear()
    optcore.run_sgd(user, epochs=1, step_size=0.01, runs=4, batch_size=5, workers=2)
    assert seen[0][:2] == ((4, 3), (4, 10))  # minibatch mode: one row per run, the M B indices together


def test_no_numpy_warnings_from_diverging_runs():
    problem = make_problem("least_squares", np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.warns(optcore.DivergenceWarning):
            optcore.run_sgd(least_squares_callback(problem, **_known(problem)), epochs=40, step_size=100.0)
