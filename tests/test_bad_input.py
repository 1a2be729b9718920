"""Bad input raises ValueError/TypeError naming the argument; nothing crashes, hangs or returns NaN silently."""

import numpy as np
import pytest

import optcore
from optcore import _core


@pytest.fixture
def problem():
    return optcore.LeastSquares.random(12, 3, seed=0)


def run(problem, **kw):
    opts = dict(order="rr", epochs=2, step_size=0.1)
    opts.update(kw)
    return optcore.run_sgd(problem, **opts)


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        (dict(epochs=0), ValueError, "epochs must be >= 1"),
        (dict(epochs=2.5), TypeError, "epochs must be an integer"),
        (dict(epochs=True), TypeError, "epochs must be an integer"),
        (dict(step_size=0.0), ValueError, "step_size must be > 0"),
        (dict(step_size=-1.0), ValueError, "step_size must be > 0"),
        (dict(step_size=np.nan), ValueError, "step_size must be finite"),
        (dict(step_size="big"), TypeError, "step_size must be a real numeric array"),
        (dict(step_size=[0.1, 0.2], runs=3), ValueError, "number of runs is ambiguous"),
        (dict(order="shuffle"), ValueError, "order must be one of"),
        (dict(order=3), TypeError, "order must be a string"),
        (dict(batch_size=13), ValueError, "batch_size must be <= N = 12"),
        (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
        (dict(remainder="keep"), ValueError, "remainder must be one of"),
        (dict(workers=5), ValueError, "workers M = 5 must divide"),
        (dict(workers=0), ValueError, "workers must be >= 1"),
        (dict(mode="async"), ValueError, "mode must be one of"),
        (dict(sync_every=2), ValueError, "sync_every only applies to mode='local'"),
        (dict(mode="local", sync_every=0), ValueError, "sync_every must be >= 1"),
        (dict(x0=np.ones(4)), ValueError, "x0 must have shape"),
        (dict(x0=np.ones((2, 3)), runs=3), ValueError, "ambiguous"),
        (dict(x0=[np.inf, 0, 0]), ValueError, "x0 must be finite"),
        (dict(x0=np.ones(3, dtype=complex)), TypeError, "x0 must be a real numeric array"),
        (dict(seed=-1), ValueError, "seed must be in"),
        (dict(seed=1.5), TypeError, "seed must be an int"),
        (dict(seed=[1, 2], runs=3), ValueError, "ambiguous"),
        (dict(run_ids=[-1]), ValueError, r"run_ids\[0\] must be in \[0, 2\*\*32\)"),
        (dict(threads=0), ValueError, "threads must be >= 1"),
        (dict(workers=2**24 + 4), ValueError, r"workers must be <= 2\*\*24 .*worker field has 24 bits"),
        (dict(workers=2**33), ValueError, r"workers must be <= 2\*\*24"),
        (dict(epochs=2**32), ValueError, r"epochs must be <= 2\*\*32 - 1"),
        (dict(record_every=2**64), ValueError, r"record_every must be <= 2\*\*63 - 1"),
        (dict(mode="local", sync_every=2**63), ValueError, r"sync_every must be <= 2\*\*63 - 1"),
        (dict(record_iterates="yes"), TypeError, "record_iterates must be a bool"),
        (dict(record=5), TypeError, "record must be 'auto' or a sequence"),
        (dict(runs=2**32 + 1), ValueError, r"runs must be <= 2\*\*32 .*32-bit stream numbers"),
        (dict(record_iterates=1), TypeError, "record_iterates must be a bool"),
        (dict(seed=[2**64, 5], runs=2), ValueError, r"seed\[0\] must be in \[0, 2\*\*64\)"),
        (dict(seed=[1, 2.0], runs=2), TypeError, r"seed\[1\] must be an int"),
        (dict(run_ids=[2**32]), ValueError, r"run_ids\[0\] must be in \[0, 2\*\*32\)"),
        (dict(record_every=0), ValueError, "record_every must be >= 1"),
        (dict(record=("gap", "loss")), ValueError, "record entries must be one of"),
        (dict(order="explicit"), ValueError, "orders= must be given exactly"),
        (dict(order="rr", orders=np.arange(12)), ValueError, "orders= must be given exactly"),
        (dict(order=np.arange(11)), ValueError, "orders must have length N = 12"),
        (dict(order=np.arange(1, 13)), ValueError, r"orders must hold indices in \[0, 12\)"),
        (dict(order=np.zeros(12)), TypeError, "orders must be an integer array"),
        (dict(order=np.zeros((3, 12), dtype=int)), ValueError, "expected 1 or K = 2"),
        (dict(order=np.zeros((2, 2, 12), dtype=int), runs=3), ValueError, "expected 1 or R = 3"),
        (dict(order="ig", base_order=[0, 1, 2]), ValueError, "base_order must be a permutation"),
        (dict(order="ig", base_order=np.zeros(12, dtype=int)), ValueError, "base_order must be a permutation"),
        (dict(order="rr", base_order=np.arange(12)), ValueError, "base_order only applies"),
        (dict(order="syncshuf", workers=5), ValueError, "must divide"),
        (dict(order="syncshuf", workers=3), ValueError, "syncshuf needs the workers M = 3 to divide N = 4"),
    ],
)
def test_run_sgd_rejects(problem, kw, error, match):
    with pytest.raises(error, match=match):
        run(problem, **kw)


def test_problem_must_be_a_problem():
    with pytest.raises(TypeError, match="problem must be an optcore.problems.Problem"):
        optcore.run_sgd(np.eye(3), epochs=1, step_size=0.1)


def test_step_size_is_required(problem):
    with pytest.raises(TypeError, match="step_size is required"):
        optcore.run_sgd(problem, epochs=1, step_size=None)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: optcore.LeastSquares(np.ones(3), np.ones(3)), ValueError, "A must have ndim 2"),
        (lambda: optcore.LeastSquares(np.ones((3, 2)), np.ones(4)), ValueError, r"b must have shape \(3\)"),
        (lambda: optcore.LeastSquares(np.full((3, 2), np.nan), np.ones(3)), ValueError, "A must be finite"),
        (lambda: optcore.LeastSquares(np.ones((3, 2)), [1, 2, np.inf]), ValueError, "b must be finite"),
        (lambda: optcore.LeastSquares(np.ones((3, 2)), np.ones(3), l2=-1), ValueError, "l2 must be"),
        (lambda: optcore.LeastSquares(np.ones((3, 2)), np.ones(3), dtype=np.int32), TypeError, "float32 or float64"),
        (lambda: optcore.LeastSquares(np.ones((3, 2)), np.ones(3), dtype=np.float16), TypeError, "float32 or float64"),
        (lambda: optcore.LeastSquares(np.zeros((0, 2)), np.ones(0)), ValueError, "at least one row"),
        (lambda: optcore.LeastSquares([["a", "b"]], [1]), TypeError, "A must be a real numeric array"),
        (lambda: optcore.Logistic(np.ones((3, 2)), [1, 0, 1]), ValueError, r"labels in \{-1, \+1\}"),
        (lambda: optcore.QuadraticComponents(np.ones((2, 2, 3)), np.ones((2, 2))), ValueError, r"\(n, d, d\)"),
        (lambda: optcore.QuadraticComponents(np.array([[[1, 2], [0, 1]]]), np.ones((1, 2))), ValueError, "symmetric"),
        (lambda: optcore.LowerBound1D(1), ValueError, "per_worker must be >= 2"),
        (lambda: optcore.LowerBound1D(4, L=1, mu=2), ValueError, "mu must be <= L"),
        (lambda: optcore.LowerBound1D(4, mu=0), ValueError, "mu must be a finite number > 0"),
        (lambda: optcore.LeastSquares.random(4, 2, seed=-1), ValueError, "seed must be None, a non-negative int"),
        (lambda: optcore.LowerBound1D(2, workers=2**33), ValueError, r"workers must be <= 2\*\*24"),
        (lambda: optcore.LeastSquares.random(4, 2, noise=np.nan), ValueError, "noise must be a finite number >= 0"),
        (lambda: optcore.QuadraticComponents.random(4, 2, seed=1.5), TypeError, "seed must be None"),
    ],
)
def test_problems_reject(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_gap_needs_known_optimum():
    p = optcore.Logistic(np.eye(3), [1, -1, 1])  # no l2: no minimizer known
    with pytest.raises(ValueError, match="record='gap' needs the optimal value"):
        optcore.run_sgd(p, epochs=1, step_size=0.1, record=("gap",))
    res = optcore.run_sgd(p, epochs=1, step_size=0.1)  # "auto" records the objective only
    assert res.gap is None and res.objective is not None


def test_divergence_is_flagged_not_hidden(problem):
    with pytest.warns(optcore.DivergenceWarning, match="2 of 3 runs diverged"):
        res = run(problem, step_size=[1e3, 1e3, 1e-3], epochs=400)
    assert res.diverged.tolist() == [True, True, False]
    assert np.isnan(res.gap[0, -1]) and np.isfinite(res.gap[2]).all()


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        (dict(order="nope"), ValueError, "order must be one of"),
        (dict(n=0), ValueError, "n must be >= 1"),
        (dict(n=10, workers=3), ValueError, "must divide n = 10"),
        (dict(count=11), ValueError, "count must be <= 10"),
        (dict(backend="gpu"), ValueError, "backend must be one of"),
        (dict(runs=0), ValueError, "runs must be >= 1"),
        (dict(epochs=2**63), ValueError, r"epochs must be <= 2\*\*32 - 1"),
        (dict(n=2**25, workers=2**25), ValueError, r"workers must be <= 2\*\*24"),
        (dict(n=2**33, workers=2**33), ValueError, r"workers must be <= 2\*\*24"),
        (dict(n=2**40), ValueError, "at most 2\\*\\*32 - 1 components per worker"),
        (dict(seed=[2**64, 1], runs=2), ValueError, r"seed\[0\] must be in"),
    ],
)
def test_epoch_orders_rejects(kw, error, match):
    args = dict(order="rr", n=10, epochs=2)
    args.update(kw)
    with pytest.raises(error, match=match):
        optcore.epoch_orders(args.pop("order"), args.pop("n"), args.pop("epochs"), **args)


def test_core_rejects_wrong_arrays_directly(problem):
    # the compiled layer checks again: a wrong dtype or shape never reaches the loop
    spec = dict(
        order=1,
        workers=1,
        per_worker=12,
        count=12,
        epochs=1,
        batch_size=1,
        mode=0,
        sync_every=12,
        record_every=0,
        threads=1,
    )
    runs = dict(
        seeds=np.zeros(2, np.uint64),
        run_ids=np.arange(2, dtype=np.uint32),
        step_table=np.ones((2, 1)),
        decay=np.zeros(2),
    )
    x = np.zeros((2, 3))
    with pytest.raises(TypeError):
        _core.run_sgd("least_squares", problem._data(), x.astype(np.int64), runs, spec, {})
    bad = dict(runs, step_table=np.ones((3, 1)))
    with pytest.raises(ValueError, match="'step_table' has shape"):
        _core.run_sgd("least_squares", problem._data(), x, bad, spec, {})
    bad = dict(runs, seeds=np.zeros(2, np.int64))
    with pytest.raises(TypeError, match="'seeds' must have dtype uint64"):
        _core.run_sgd("least_squares", problem._data(), x, bad, spec, {})
    with pytest.raises(ValueError, match="unknown problem kind"):
        _core.run_sgd("ridge", problem._data(), x, runs, spec, {})
    with pytest.raises(ValueError, match="batch_size must be in"):
        _core.run_sgd("least_squares", problem._data(), x, runs, dict(spec, batch_size=13), {})
    with pytest.raises(ValueError, match="unknown order code"):
        _core.run_sgd("least_squares", problem._data(), x, runs, dict(spec, order=42), {})


def test_seeds_accept_the_whole_uint64_range(problem):
    # a list mixing keys >= 2**63 with small ones is an object array to NumPy; it used to be refused as "got list"
    res = run(problem, seed=[2**64 - 1, 5])
    assert res.meta["seeds"] == [2**64 - 1, 5]
    alone = run(problem, seed=[2**64 - 1], run_ids=[0])
    np.testing.assert_array_equal(alone.x[0], res.x[0])
    orders = optcore.epoch_orders("rr", 12, 2, seed=[2**64 - 1, 5], runs=2)
    np.testing.assert_array_equal(orders[0], res.order_indices(0))


def test_quadratic_random_validates_its_range():
    with pytest.raises(ValueError, match="low must be finite"):
        optcore.QuadraticComponents.random(4, 3, low=np.nan)
    with pytest.raises(ValueError, match="low must be <= high"):
        optcore.QuadraticComponents.random(4, 3, low=3.0, high=2.0)
    with pytest.raises(TypeError, match="high must be a real numeric array"):
        optcore.QuadraticComponents.random(4, 3, high="big")


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ((0, 0, 0, 2**24, 0), r"worker must be <= 2\*\*24 - 1"),  # would spill into the purpose byte
        ((0, 2**32, 0, 0, 0), r"run must be <= 2\*\*32 - 1"),
        ((0, 0, -1, 0, 0), "epoch must be >= 0"),
        ((2**64, 0, 0, 0, 0), r"seed must be <= 2\*\*64 - 1"),
        ((0, 0, 0, 0, 256), "purpose must be <= 255"),
    ],
)
def test_reference_streams_refuse_fields_that_do_not_fit(fields, match):
    from optcore import reference

    with pytest.raises(ValueError, match=match):
        reference.Stream(*fields)
