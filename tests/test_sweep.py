"""The sweep runner: grids, seeds, tables, backends (serial, processes, threads, Dask) and bad input."""

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from test_sweep_toy import BAD_OUTPUT, FAILING, ROWS, TOY, make_toy

import optcore
from optcore import experiments as ex


@pytest.fixture
def toy():
    with ex.registered(TOY) as experiment:
        yield experiment


def test_expand_grid_defaults_and_order(toy):
    configs = ex.expand_grid("toy", {"scale": [1, 2.5]})
    assert configs == [
        {"a": a, "scale": s, "label": "x", "flag": False} for a in (1, 2, 3) for s in (1.0, 2.5)
    ]  # parameters in declared order, the last one varying fastest
    assert all(isinstance(c["scale"], float) for c in configs)  # ints are accepted for floats and converted
    assert ex.expand_grid(toy, {"a": 5}) == [{"a": 5, "scale": 1.0, "label": "x", "flag": False}]
    assert ex.expand_grid(toy, {"a": np.array([4, 5]).tolist(), "flag": [True, False]})[1]["flag"] is False


def test_table_rows_columns_and_seeds(toy):
    result = ex.run_sweep("toy", {"scale": [1.0, 2.0]}, seeds=3)
    table = result.table
    assert len(table) == 3 * 2 * 3
    assert list(table.columns) == [
        "a", "scale", "label", "flag", "replicate", "seed", "value", "noise", "label_out", "positive", "count"
    ]  # fmt: skip
    assert table["replicate"].tolist() == [0, 1, 2] * 6
    assert table["seed"].is_unique
    assert table["count"].dtype == np.int64 and table["positive"].dtype == bool
    for row in table.itertuples():
        config = {"a": row.a, "scale": row.scale, "label": row.label, "flag": row.flag}
        assert row.seed == ex.cell_seed(base_seed=0, config=config, replicate=row.replicate)
        rng = np.random.default_rng(row.seed)
        assert row.value == row.a * row.scale + rng.standard_normal()
    again = ex.run_sweep("toy", {"scale": [1.0, 2.0]}, seeds=3)
    pd.testing.assert_frame_equal(again.table, table)
    other = ex.run_sweep("toy", {"scale": [1.0, 2.0]}, seeds=3, base_seed=1)
    assert not set(other.table["seed"]) & set(table["seed"])


def test_cell_seed_is_the_documented_hash_and_ignores_grid_position():
    config = {"a": 3, "scale": 1.0, "label": "x", "flag": False}
    text = json.dumps({"base_seed": 7, "config": config, "replicate": 2}, sort_keys=True, separators=(",", ":"))
    expected = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1
    assert ex.cell_seed(base_seed=7, config=config, replicate=2) == expected
    assert 0 <= expected < 2**63
    small = ex.run_sweep(TOY, {"a": 3}, seeds=2, base_seed=7).table
    large = ex.run_sweep(TOY, {"a": [1, 2, 3]}, seeds=2, base_seed=7).table
    pd.testing.assert_frame_equal(large[large["a"] == 3].reset_index(drop=True), small)


def test_metadata():
    result = ex.run_sweep(TOY, {"a": [1, 2]}, seeds=2, base_seed=5)
    meta = result.meta
    assert meta["experiment"] == "toy" and meta["experiment_version"] == "1"
    assert meta["optcore_version"] == optcore.__version__
    assert meta["code_version"] == f"optcore {optcore.__version__}; toy 1" == ex.code_version(TOY)
    assert meta["grid"] == {"a": [1, 2], "scale": [1.0], "label": ["x"], "flag": [False]}
    assert (meta["configs"], meta["seeds"], meta["base_seed"], meta["cells"]) == (2, 2, 5, 4)
    assert (meta["backend"], meta["workers"], meta["threads"]) == ("serial", 1, 1)
    assert meta["cpu_count"] >= 1 and meta["elapsed_s"] >= 0 and meta["started"].endswith("+00:00")
    assert meta["cache"] == {"dir": None, "hits": 0, "misses": 0, "corrupt": 0, "computed": 4}
    json.dumps(meta)  # JSON-serialisable as is


def test_rows_experiment():
    table = ex.run_sweep(ROWS, {"steps": [2, 3]}, seeds=2).table
    assert len(table) == 2 * (2 + 3)
    assert table.loc[table["steps"] == 3, "step"].tolist() == [0, 1, 2, 0, 1, 2]


def test_results_must_be_scalars():
    with pytest.raises(RuntimeError, match="toy-bad-output") as info:
        ex.run_sweep(BAD_OUTPUT, seeds=1)
    assert isinstance(info.value.__cause__, TypeError)
    assert "'vector' must be a scalar" in str(info.value)


def test_a_failing_cell_names_its_config_and_seed():
    with pytest.raises(RuntimeError, match=r"'a': 2.*seed \d+.*ArithmeticError: the toy fails") as info:
        ex.run_sweep(FAILING)
    assert isinstance(info.value.__cause__, ArithmeticError)


def test_backends_give_identical_tables():
    grid = {"a": [1, 2, 3, 4], "scale": [0.5, 2.0]}
    serial = ex.run_sweep(TOY, grid, seeds=2)
    processes = ex.run_sweep(TOY, grid, seeds=2, workers=2)
    assert (processes.meta["backend"], processes.meta["workers"]) == ("processes", 2)
    pd.testing.assert_frame_equal(processes.table, serial.table)
    with ThreadPoolExecutor(max_workers=2) as pool:
        threads = ex.run_sweep(TOY, grid, seeds=2, executor=pool)
    assert threads.meta["backend"] == "executor:ThreadPoolExecutor"
    pd.testing.assert_frame_equal(threads.table, serial.table)


def test_dask_gives_identical_tables():
    distributed = pytest.importorskip("distributed")
    grid = {"a": [1, 2, 3], "scale": [0.5, 2.0]}
    serial = ex.run_sweep(TOY, grid, seeds=2)
    # processes=False: scheduler and one worker thread in this process (light on 2 cores, nothing left behind)
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None)
    try:
        with distributed.Client(cluster) as client:
            on_client = ex.run_sweep(TOY, grid, seeds=2, dask=client)
            assert (on_client.meta["backend"], on_client.meta["threads"]) == ("dask", 1)
            pd.testing.assert_frame_equal(on_client.table, serial.table)
        on_address = ex.run_sweep(TOY, grid, seeds=2, dask=cluster.scheduler_address)
        pd.testing.assert_frame_equal(on_address.table, serial.table)
    finally:
        cluster.close()


def test_registry(toy):
    assert ex.get("toy") is toy
    names = [e.name for e in ex.experiments()]
    assert "toy" in names and "shuffling-rates" in names and names == sorted(names)
    with pytest.raises(ValueError, match="already registered"):
        ex.register(make_toy())
    replacement = ex.register(make_toy(version="2"), replace=True)
    assert ex.get("toy") is replacement
    assert ex.unregister("toy") is replacement
    with pytest.raises(ex.UnknownExperimentError, match="valid experiments: .*shuffling-rates"):
        ex.get("toy")


def test_register_decorator_and_context_manager():
    @ex.register(name="toy-decorated", summary="Made by the decorator.", params=[ex.Param("x", float, 1.0, "x")])
    def run(config, seed):
        return {"twice": 2 * config["x"]}

    try:
        assert ex.run_sweep("toy-decorated", {"x": [1, 2]}, seeds=1).table["twice"].tolist() == [2.0, 4.0]
    finally:
        ex.unregister("toy-decorated")
    with ex.registered(make_toy(name="toy-temporary")):
        assert ex.get("toy-temporary").name == "toy-temporary"
    with pytest.raises(KeyError, match="toy-temporary"):
        ex.get("toy-temporary")


def test_bad_declarations():
    with pytest.raises(ValueError, match="reserved"):
        ex.Experiment(name="x", summary="s", run=print, params=[ex.Param("seed", int, 0, "h")])
    with pytest.raises(ValueError, match="repeated parameter"):
        ex.Experiment(name="x", summary="s", run=print, params=[ex.Param("a", int, 0, "h")] * 2)
    with pytest.raises(ValueError, match="one-line summary"):
        ex.Experiment(name="x", summary="", run=print)
    with pytest.raises(ValueError, match="name"):
        ex.Experiment(name="a b", summary="s", run=print)
    with pytest.raises(TypeError, match="int, float, str, bool"):
        ex.Param("a", list, [], "h")
    with pytest.raises(TypeError, match="expects int"):
        ex.Param("a", int, 1.5, "h")
    with pytest.raises(ValueError, match="help"):
        ex.Param("a", int, 1, "")


def test_bad_input_lists_the_valid_choices(toy):
    with pytest.raises(ex.UnknownExperimentError, match="unknown experiment 'nope'; valid experiments: .*toy"):
        ex.run_sweep("nope")
    with pytest.raises(ValueError, match="no parameter 'b'; valid parameters: a, scale, label, flag"):
        ex.run_sweep("toy", {"b": 1})
    with pytest.raises(TypeError, match="parameter 'a' expects int, got '1'"):
        ex.run_sweep("toy", {"a": ["1"]})
    with pytest.raises(TypeError, match="parameter 'a' expects int, got 1.5"):
        ex.run_sweep("toy", {"a": 1.5})
    with pytest.raises(TypeError, match="parameter 'flag' expects bool"):
        ex.run_sweep("toy", {"flag": 1})
    with pytest.raises(ValueError, match="parameter 'a': empty grid"):
        ex.run_sweep("toy", {"a": []})
    with pytest.raises(ValueError, match="repeated values"):
        ex.run_sweep("toy", {"a": [1, 1]})
    with pytest.raises(ValueError, match="'z' is not one of the valid choices: x, y"):
        ex.run_sweep("toy", {"label": "z"})
    with pytest.raises(ValueError, match="NaN"):
        ex.run_sweep("toy", {"scale": float("nan")})
    with pytest.raises(ValueError, match="seeds must be a positive int"):
        ex.run_sweep("toy", seeds=0)
    with pytest.raises(ValueError, match="base_seed must be a non-negative int"):
        ex.run_sweep("toy", base_seed=-1)
    with pytest.raises(ValueError, match="at most one of workers=, dask= and executor="):
        ex.run_sweep("toy", workers=2, dask="tcp://127.0.0.1:1")
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        ex.run_sweep("toy", executor=object())


def test_param_parse_from_text():
    assert ex.Param("K", int, 8, "h").parse("8, 16,32") == [8, 16, 32]
    assert ex.Param("x", float, 1.0, "h").parse("1e-3") == [0.001]
    assert ex.Param("f", bool, False, "h").parse("true,no") == [True, False]
    assert ex.Param("s", str, "a", "h").parse("a,b") == ["a", "b"]
    with pytest.raises(TypeError, match="expects int, got 'x'"):
        ex.Param("K", int, 8, "h").parse("8,x")
    with pytest.raises(ValueError, match="empty grid"):
        ex.Param("K", int, 8, "h").parse(" , ")
    with pytest.raises(TypeError, match="expects bool"):
        ex.Param("f", bool, False, "h").parse("maybe")
