"""Memory that grows with runs x epochs only where the results need it: constant and per-run step sizes take O(R),
and result arrays that cannot fit are refused up front with a message naming the arguments that set their size.
"""

import numpy as np
import pytest

import optcore
from optcore import _memory, schedules


@pytest.fixture
def problem():
    return optcore.LeastSquares.random(n=8, dim=2, seed=0)


@pytest.mark.parametrize(
    ("step", "shape"),
    [(0.1, (1, 1)), (np.array([0.1, 0.2, 0.3]), (3, 1)), (schedules.per_epoch(np.full(5, 0.1)), (1, 5)),
     (schedules.per_epoch(np.full((3, 5), 0.1)), (3, 5)), (schedules.inverse_time(0.1, 0.5), (1, 1))],
)
def test_step_tables_are_compact(step, shape):
    table, decay = schedules.as_schedule(step).compact_table(3, 5, np.float64)
    assert table.shape == shape and decay.shape == (3,)
    full, _ = schedules.as_schedule(step).table(3, 5, np.float64)
    np.testing.assert_array_equal(full, np.broadcast_to(table, (3, 5)))


def test_compact_tables_give_the_full_tables_bits(problem):
    # the engine reads the shared entries through zero strides: same steps, same bits
    steps = np.array([0.05, 0.1, 0.2])
    compact = optcore.run_sgd(problem, epochs=6, step_size=steps, seed=3, threads=1)
    full = optcore.run_sgd(problem, epochs=6, step_size=schedules.per_epoch(np.repeat(steps[:, None], 6, 1)), seed=3,
                           threads=1)
    shared = optcore.run_sgd(problem, epochs=6, step_size=schedules.per_epoch(np.full(6, 0.1)), runs=3, seed=3,
                             threads=1)
    np.testing.assert_array_equal(compact.gap, full.gap)
    np.testing.assert_array_equal(compact.x, full.x)
    np.testing.assert_array_equal(shared.x[1], compact.x[1])


def test_constant_steps_need_no_runs_by_epochs_table(problem, monkeypatch):
    # R x K = 10**4 x 10**6 would be 74.5 GiB of step table; records are off, so the call needs O(R) memory
    seen = {}

    class Skipped:  # the prepared call's stand-in: no run, nothing diverged
        def run(self, x, seeds, run_ids):
            return {"diverged": np.zeros(len(x), dtype=bool)}, 0

    def spy(kind, data, run_arrays, spec, rec_inputs, record, iterates, runs, dim, dtype):
        seen["table"] = run_arrays["step_table"].shape
        seen["records"] = [*record, *(["iterates"] if iterates else [])]
        return Skipped()

    monkeypatch.setattr(optcore.sgd._core, "prepare_sgd", spy)
    optcore.run_sgd(problem, epochs=10**6, step_size=0.1, runs=10**4, record=())
    assert seen == {"table": (1, 1), "records": []}  # (the spy stood in for the 10**10-step run itself)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [(dict(epochs=2**32 - 1, runs=1), "epochs=4294967295"),
     (dict(epochs=10**6, runs=10**6), "runs=1000000"),
     (dict(epochs=10**6, runs=10**3, record_every=1), "record_every=1")],
)
def test_impossible_records_are_refused_naming_the_arguments(problem, kwargs, named, monkeypatch):
    monkeypatch.setattr(_memory, "memory_limit", lambda: 2**30)
    with pytest.raises(ValueError, match=rf"run_sgd\(.*{named}.*needs .* GiB, more than the 1 GiB"):
        optcore.run_sgd(problem, step_size=0.1, **kwargs)


def test_impossible_epoch_orders_are_refused(monkeypatch):
    monkeypatch.setattr(_memory, "memory_limit", lambda: 2**30)
    with pytest.raises(ValueError, match=r"epoch_orders\(runs=1000, epochs=100000\).*GiB"):
        optcore.epoch_orders("random_reshuffling", 100, 10**5, runs=1000)
    assert optcore.epoch_orders("random_reshuffling", 100, 3, runs=2).shape == (2, 3, 1, 100)


def test_memory_limit_is_a_positive_number():
    limit = _memory.memory_limit()
    assert limit is None or limit > 2**20
