"""Every failure loud, before work starts: parameter domains, validate hooks and the cell limit; and the CLI's
--version, closed pipes, order aliases, output folders, expected times and progress lines."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_sweep_toy import COUNTER_ENV, TOY, VALIDATED

import optcore
from optcore import experiments as ex
from optcore.cli import main

PACKAGE_DIR = Path(optcore.__file__).resolve().parents[1]


@pytest.fixture
def validated():
    with ex.registered(VALIDATED) as experiment:
        yield experiment


@pytest.fixture
def toy():
    with ex.registered(TOY) as experiment:
        yield experiment


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"n": [2, -2]}, "parameter 'n' must be >= 2, got -2"),
        ({"c": 0.0}, "parameter 'c' must be > 0, got 0.0"),
        ({"c": float("inf")}, "parameter 'c' must be finite, got inf"),
        ({"n": [2, 4, 7]}, "invalid configuration {'n': 7, 'c': 1.0}: n must be even, got 7"),
    ],
)
def test_out_of_domain_values_fail_before_any_cell(validated, grid, message, tmp_path, monkeypatch):
    counter = tmp_path / "count"
    monkeypatch.setenv(COUNTER_ENV, str(counter))
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("{", r"\{")):
        ex.run_sweep(validated, grid)
    assert not counter.exists()  # no cell ran


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--K", "-1"], "parameter 'K' must be >= 1, got -1"),
        (["--runs", "0"], "parameter 'runs' must be >= 1, got 0"),
        (["--n", "63"], "n must be even, got 63"),
        (["--c", "inf"], "parameter 'c' must be finite, got inf"),
        (["--order", "rr,bogus"], "'bogus' is not one of the valid choices"),
        (["--seeds", "1000000000"], "the sweep has 20000000000 cells (20 configurations x 1000000000 seeds)"),
    ],
)
def test_the_issue_examples_exit_2_before_any_cell(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "shuffling-rates", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_cell_limit_names_the_way_beyond(validated):
    with pytest.raises(ValueError, match=r"more than the limit max_cells=100000.*--max-cells N"):
        ex.run_sweep(validated, seeds=10**9)
    with pytest.raises(ValueError, match="max_cells=3"):
        ex.run_sweep(validated, seeds=2, max_cells=3)
    assert len(ex.run_sweep(validated, seeds=2, max_cells=4).table) == 4


def test_every_registered_study_declares_domains_and_its_defaults_pass():
    for experiment in ex.experiments():
        if experiment.name.startswith("toy"):
            continue
        assert ex.check_sweep(experiment), experiment.name
        for param in experiment.params:
            if param.type in (int, float) and param.choices is None:
                assert param.domain_text().startswith((">", "<")), (experiment.name, param.name)
        assert experiment.timing is not None, experiment.name


def test_order_aliases_are_the_canonical_configuration(tmp_path):
    out = tmp_path / "out"
    args = ["run", "shuffling-rates", "--order", "rr,ss", "--K", "8", "--runs", "2", "--seeds", "1", "--out", str(out)]
    assert main([*args, "-q"]) == 0
    table = ex.ResultTable.load(out).table
    assert list(table["order"]) == ["random_reshuffling", "single_shuffle"]
    again = ex.run_sweep(
        "shuffling-rates", {"order": ["random_reshuffling", "ss"], "K": 8, "runs": 2}, seeds=1, cache=out / "cache"
    )
    assert again.cache_stats["hits"] == 2  # the same cells


def test_a_second_run_goes_to_a_new_folder_unless_force(toy, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "toy", "-q"]) == 0
    first = capsys.readouterr()
    assert first.out.startswith(f"wrote {Path('results', 'toy')}{os.sep}:")
    assert main(["run", "toy", "-q", "--a", "5"]) == 0
    second = capsys.readouterr()
    assert "results/toy holds an earlier run; writing to results/toy-2" in second.err
    assert "(new folder: results/toy holds an earlier run; --force overwrites it)" in second.out
    assert set(ex.ResultTable.load("results/toy").table["a"]) == {1, 2, 3}  # untouched
    assert set(ex.ResultTable.load("results/toy-2").table["a"]) == {5}
    assert main(["run", "toy", "-q", "--a", "6", "--format", "csv", "--force"]) == 0
    assert "--force: the earlier run there was overwritten" in capsys.readouterr().out
    assert set(ex.ResultTable.load("results/toy").table["a"]) == {6}
    assert not Path("results/toy/table.parquet").exists()  # no stale table of the earlier run
    assert len(ex.Cache("results/toy/cache").files("toy")) == 3 * 2 + 2 + 2  # one cache for all three runs


def test_help_states_the_default_grid_and_its_measured_time(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "shuffling-rates", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Default grid: 20 configurations x 4 seeds = 80 cells" in text
    assert "expected time of `optcore run shuffling-rates`: " in text and "of CPU time, " in text
    assert " s wall (measured on " in text
    assert "aliases: " in text and "rr" in text  # the order aliases


def test_version_and_a_closed_pipe(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_DIR)}
    version = subprocess.run([sys.executable, "-m", "optcore", "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and version.stdout.strip() == f"optcore {optcore.__version__}"
    # the reader is gone before the first line (as `optcore list | head -1` can be): no BrokenPipeError traceback,
    # and the status a process ended by SIGPIPE would have
    proc = subprocess.Popen(
        [sys.executable, "-m", "optcore", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141 and err == "", err


def test_broken_pipe_status_in_process(capsys, monkeypatch):
    def closed(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("optcore.cli._list", closed)
    assert main(["list"]) == 141


def test_progress_lines_when_stderr_is_not_a_terminal(toy, tmp_path, capsys):
    assert main(["run", "toy", "--a", "1,2", "--seeds", "1", "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("toy: cell 1/2 done in ")
    assert "(a=1, scale=1.0, label=x, flag=False; replicate 0)" in err[0]
    assert err[1].startswith("toy: cell 2/2 done in ")
    assert main(["run", "toy", "--a", "1,2", "--seeds", "1", "--out", str(tmp_path / "o"), "--force", "-q"]) == 0
    assert capsys.readouterr().err == ""  # -q: quiet


def test_cell_progress_iterates_without_a_bar_outside_a_visible_sweep():
    assert list(ex.progress(range(3), desc="epochs")) == [0, 1, 2]
    with ex.progress(total=2) as bar:
        bar.update(2)
        assert bar.disable


def test_figure_with_several_panels(toy):
    def two_panels(table, axes):
        for ax, column in zip(axes, ["value", "noise"], strict=True):
            ax.plot(table["a"], table[column])
            ax.set_xlabel("a")
            ax.set_ylabel(column)

    experiment = ex.Experiment(name="panels", summary="Two panels.", run=TOY.run, params=TOY.params, figure=two_panels)
    assert experiment.panels == 1
    panels = ex.Experiment(
        name="panels", summary="Two panels.", run=TOY.run, params=TOY.params, figure=two_panels, panels=2
    )
    table = ex.run_sweep(TOY, seeds=1).table
    fig = ex.draw(panels, table)
    assert len(fig.axes) == 2 and fig.get_suptitle() == "Two panels."
    with pytest.raises(ValueError, match="panels must be a positive int"):
        ex.Experiment(name="p", summary="s", run=TOY.run, panels=0)


def test_a_long_cell_shows_its_own_bar_on_a_terminal(monkeypatch, capsys):
    from test_sweep_toy import REPORTING

    monkeypatch.setattr("optcore.experiments.reporting._isatty", lambda stream: True)
    result = ex.run_sweep(REPORTING, progress=True)
    assert result.table["total"].tolist() == [10]
    err = capsys.readouterr().err
    assert "inner steps" in err and "toy-reporting" in err  # the cell's bar below the sweep's
    monkeypatch.setattr("optcore.experiments.reporting._isatty", lambda stream: False)
    ex.run_sweep(REPORTING, {"steps": 1}, progress=True)
    err = capsys.readouterr().err
    assert "inner steps" not in err and err.startswith("toy-reporting: cell 1/1 done in")


def test_quick_cells_do_not_flood_the_log(toy, tmp_path, capsys):
    # eight cells of a few milliseconds: the first and the last get a line, not every one
    assert main(["run", "toy", "--a", "1,2,3,4", "--seeds", "2", "--out", str(tmp_path / "o")]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if " done in " in line]
    assert [line.split(" done in ")[0] for line in lines] == ["toy: cell 1/8", "toy: cell 8/8"]
