"""The optcore command: list, run (round trip in a subprocess and in-process), --help, and bad input."""

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import test_sweep_toy
from test_sweep_toy import TOY

from optcore import experiments as ex
from optcore.cli import main


def optcore_cmd(*args, cwd=None):
    """Run ``python -m optcore ARGS`` with this interpreter and this process's import path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(test_sweep_toy.__file__).parent), *sys.path])}
    return subprocess.run(
        [sys.executable, "-m", "optcore", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


@pytest.fixture
def toy():
    with ex.registered(TOY) as experiment:
        yield experiment


def test_console_script_is_declared():
    (script,) = entry_points(group="console_scripts", name="optcore")
    assert script.value == "optcore.cli:main"


def test_list_and_help_in_a_subprocess():
    listed = optcore_cmd("list")
    assert listed.returncode == 0, listed.stderr
    (line,) = [ln for ln in listed.stdout.splitlines() if ln.startswith("shuffling-rates")]
    assert ex.get("shuffling-rates").summary in line
    helped = optcore_cmd("run", "shuffling-rates", "--help")
    assert helped.returncode == 0, helped.stderr
    flat = " ".join(helped.stdout.split())  # argparse wraps lines at the terminal width
    for text in ["--n INT", "--K INT", "--order STR", "--runs INT", "default: 8, 16, 32, 64, 128", "--seeds N"]:
        assert text in flat
    assert "--workers N" in helped.stdout and "--dask ADDRESS" in helped.stdout and "--out DIR" in helped.stdout


def test_run_round_trip_in_a_subprocess(tmp_path):
    out = tmp_path / "demo"
    args = ["run", "shuffling-rates", "--K", "16,32", "--runs", "40", "--seeds", "2", "--out", str(out)]
    done = optcore_cmd(*args)
    assert done.returncode == 0, done.stderr
    assert "random_reshuffling" in done.stdout and "slope" in done.stdout and "16 cells (0 cached" in done.stdout
    names = {p.name for p in out.iterdir()}
    assert {"metadata.json", "summary.csv", "figure.png", "figure.pdf", "cache"} <= names
    assert names & {"table.parquet", "table.csv"}
    result = ex.ResultTable.load(out)
    assert len(result.table) == 2 * 4 * 2 and set(result.table["K"]) == {16, 32}
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["experiment"] == "shuffling-rates" and meta["grid"]["runs"] == [40] and meta["seeds"] == 2
    again = optcore_cmd(*args)  # the same command again: every cell from the cache
    assert again.returncode == 0, again.stderr
    assert "16 cells (16 cached, 0 computed)" in again.stdout


def test_run_in_process(toy, tmp_path, capsys):
    out = tmp_path / "toy"
    assert (
        main(["run", "toy", "--a", "1,2", "--scale", "0.5", "--flag", "true", "--seeds", "3", "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert "6 cells (0 cached, 6 computed) on serial" in printed and "wrote" in printed
    result = ex.ResultTable.load(out)
    expected = ex.run_sweep(TOY, {"a": [1, 2], "scale": 0.5, "flag": True}, seeds=3)
    assert result.table.drop(columns="label_out").equals(expected.table.drop(columns="label_out"))
    assert (out / "figure.png").is_file() and (out / "figure.pdf").is_file()
    assert (
        main(["run", "toy", "--a", "1,2,3", "--scale", "0.5", "--flag", "true", "--seeds", "3", "--out", str(out)]) == 0
    )
    assert "9 cells (6 cached, 3 computed)" in capsys.readouterr().out


def test_run_options(toy, tmp_path, capsys):
    out = tmp_path / "toy"
    assert main(["run", "toy", "--out", str(out), "--no-cache", "--format", "csv", "--quiet", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("wrote ") and "cells" not in printed
    assert (out / "table.csv").is_file() and not (out / "cache").exists()
    assert ex.ResultTable.load(out).meta["base_seed"] == 3
    cache = tmp_path / "elsewhere"
    assert main(["run", "toy", "--out", str(out), "--cache", str(cache), "-q"]) == 0
    assert len(ex.Cache(cache).files("toy")) == 3 * 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nope"], "unknown experiment 'nope'; valid experiments: "),
        (["run", "toy", "--b", "1"], "unknown parameter --b; valid parameters of toy: --a, --scale, --label, --flag"),
        (["run", "toy", "--a", "x"], "parameter 'a' expects int, got 'x'"),
        (["run", "toy", "--a", ","], "parameter 'a': empty grid"),
        (["run", "toy", "--label", "z"], "'z' is not one of the valid choices: x, y"),
        (["run", "toy", "--flag", "maybe"], "parameter 'flag' expects bool"),
        (["run", "toy", "--seeds", "0"], "expected a positive int"),
        (["run", "toy", "--workers", "2", "--dask", "tcp://x:1"], "not allowed with"),
        (["run", "toy", "stray"], "unexpected argument 'stray'"),
        (["frob"], "invalid choice: 'frob'"),
        ([], "required"),
    ],
)
def test_bad_input_exits_2_with_the_valid_choices(toy, args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    if args[:2] == ["run", "nope"]:
        assert "shuffling-rates" in err and "toy" in err


def test_a_failing_experiment_exits_1(tmp_path, capsys):
    with ex.registered(test_sweep_toy.FAILING):
        assert main(["run", "toy-failing", "--out", str(tmp_path), "-q"]) == 1
    assert "failed on config {'a': 2}" in capsys.readouterr().err


def test_list_in_process(toy, capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("toy ") and line.endswith(TOY.summary) for line in lines)
