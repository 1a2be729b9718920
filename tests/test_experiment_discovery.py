"""Experiments come from the ``optcore.experiments`` entry points -- optcore's own and other distributions' --,
from a file (``optcore run path.py:NAME``) or a module (``--module``); the framework imports no study."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import optcore
from optcore import experiments as ex
from optcore.cli import main
from optcore.experiments.catalog import BUILTIN

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = Path(optcore.__file__).resolve().parents[1]  # the folder that holds optcore/ (python/ in a source tree)

USER_STUDY = '''
from optcore.experiments import Experiment, Param


def run(config, seed):
    return {"double": 2 * config["x"], "seed_mod": seed % 7}


def figure(table, ax):
    ax.plot(table["x"], table["double"], marker="o")
    ax.set_xlabel("x")
    ax.set_ylabel("2 x")


STUDY = Experiment(
    name="user-study",
    summary="A user's study found through its distribution's entry point.",
    run=run,
    params=(Param("x", int, (1, 2, 3), "a number", ge=0),),
    seeds=2,
    figure=figure,
)
'''


def pyproject_entry_points() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["entry-points"]["optcore.experiments"]


def write_dist_info(site: Path, name: str, version: str, entry_points: dict) -> None:
    """A minimal installed distribution: what importlib.metadata reads (METADATA and entry_points.txt)."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[optcore.experiments]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def optcore_in(site: Path | None, *args, cwd=None):
    """``python -m optcore ARGS`` with ``site`` (if any) first on the path, then the optcore under test."""
    path = [str(site)] if site is not None else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, str(PACKAGE_DIR)])}
    return subprocess.run(
        [sys.executable, "-m", "optcore", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=180
    )


def test_the_builtin_list_matches_pyproject_entry_points():
    assert pyproject_entry_points() == BUILTIN
    assert len(BUILTIN) == 25


def test_the_catalog_and_the_registry_import_no_study():
    code = textwrap.dedent(
        """
        import sys
        import optcore.cli
        from optcore import experiments as ex
        names = ex.experiment_names()
        studies = sorted(m for m in sys.modules if "studies" in m or m.endswith(".digits"))
        assert len(names) >= 25 and studies == [], studies
        ex.get("shuffling-rates")
        studies = sorted(m for m in sys.modules if "studies" in m or m.endswith(".digits"))
        assert studies == ["optcore.shuffling.studies_rates"], studies
        print("ok")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_DIR)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_installed_metadata_gives_every_study_through_entry_points(tmp_path):
    """optcore's own dist-info (as an install writes it from pyproject.toml) and a user distribution."""
    site = tmp_path / "site"
    write_dist_info(site, "optcore", optcore.__version__, pyproject_entry_points())
    write_dist_info(site, "user_dist", "1.0", {"user-study": "user_study_module:STUDY"})
    (site / "user_study_module.py").write_text(USER_STUDY)

    listed = optcore_in(site, "list", "-v")
    assert listed.returncode == 0, listed.stderr
    names = [ln.split()[0] for ln in listed.stdout.splitlines() if ln and not ln.startswith(" ")][:-1]
    assert names == sorted([*BUILTIN, "user-study"])
    sources = [ln.strip() for ln in listed.stdout.splitlines() if ln.startswith(" ")]
    assert len(sources) == len(BUILTIN) + 1
    assert sum(f"from entry point of optcore {optcore.__version__}: optcore." in s for s in sources) == len(BUILTIN)
    assert "from entry point of user_dist 1.0: user_study_module:STUDY" in sources
    assert "built-in list" not in listed.stdout

    out = tmp_path / "out"
    done = optcore_in(site, "run", "user-study", "--x", "4,5", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "4 cells (0 cached, 4 computed)" in done.stdout
    table = ex.ResultTable.load(out).table
    assert sorted(set(table["double"])) == [8, 10]
    assert (out / "figure.png").is_file()


def test_without_optcore_metadata_the_builtin_list_is_used(tmp_path):
    """A source tree next to an install whose metadata declares no studies (or no install): nothing breaks."""
    site = tmp_path / "site"
    write_dist_info(site, "optcore", optcore.__version__, {})  # an older optcore's metadata: no entry points
    listed = optcore_in(site, "list", "-v")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    names = [ln.split()[0] for ln in lines if ln and not ln.startswith(" ")][:-1]
    assert names == sorted(BUILTIN)
    assert sum("from optcore's built-in list" in ln for ln in lines) == len(BUILTIN)
    assert lines[-1] == f"{len(BUILTIN)} experiments; `optcore run NAME --help` lists an experiment's parameters."


def test_a_broken_entry_point_is_loud_but_does_not_hide_the_others(tmp_path):
    site = tmp_path / "site"
    write_dist_info(site, "broken_dist", "0.1", {"broken-study": "no_such_module_here:STUDY"})
    listed = optcore_in(site, "list")
    assert listed.returncode == 0
    assert "warning: experiment 'broken-study'" in listed.stderr and "no_such_module_here" in listed.stderr
    assert "shuffling-rates" in listed.stdout and "broken-study" not in listed.stdout
    ran = optcore_in(site, "run", "broken-study")
    assert ran.returncode == 1
    assert "broken_dist" in ran.stderr and "ModuleNotFoundError" in ran.stderr and "Traceback" not in ran.stderr


def test_an_entry_point_must_name_an_experiment_of_its_name(tmp_path):
    site = tmp_path / "site"
    write_dist_info(site, "wrong_dist", "0.1", {"other-name": "user_study_module:STUDY"})
    (site / "user_study_module.py").write_text(USER_STUDY)
    ran = optcore_in(site, "run", "other-name")
    assert ran.returncode == 1
    assert "the experiment 'user-study'" in ran.stderr and "must be an Experiment called 'other-name'" in ran.stderr


def test_run_a_study_from_a_file(tmp_path, capsys):
    study = tmp_path / "my_file_study.py"
    study.write_text(USER_STUDY.replace("user-study", "file-study"))
    out = tmp_path / "out"
    try:
        assert main(["run", f"{study}:file-study", "--x", "1", "--out", str(out), "-q"]) == 0
        assert main(["run", str(study), "--x", "2", "--out", str(out), "-q", "--force"]) == 0  # the one it defines
        assert set(ex.ResultTable.load(out).table["double"]) == {4}
        with pytest.raises(SystemExit) as info:
            main(["run", f"{study}:nope"])
        assert info.value.code == 2
        assert "defines no experiment 'nope'; it defines: file-study" in capsys.readouterr().err
        with pytest.raises(SystemExit):
            main(["run", str(tmp_path / "missing.py:x")])
        assert "no Python file" in capsys.readouterr().err
        (tmp_path / "failing_study.py").write_text("raise ArithmeticError('the study file fails')\n")
        assert main(["run", str(tmp_path / "failing_study.py:x")]) == 1
        assert "failing_study.py failed: ArithmeticError: the study file fails" in capsys.readouterr().err
    finally:
        ex.unregister("file-study")
        sys.modules.pop("my_file_study", None)
        sys.modules.pop("failing_study", None)


def test_run_a_study_from_a_module_in_worker_processes(tmp_path, capsys, monkeypatch):
    """--module imports it; spawned workers import it by name too (they inherit sys.path)."""
    (tmp_path / "my_module_study.py").write_text(USER_STUDY.replace("user-study", "module-study"))
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    try:
        args = ["run", "module-study", "--module", "my_module_study", "--out", str(out), "--workers", "2", "-q"]
        assert main(args) == 0
        assert set(ex.ResultTable.load(out).table["double"]) == {2, 4, 6}
        assert main(["list", "--module", "my_module_study"]) == 0
        assert "module-study" in capsys.readouterr().out
    finally:
        ex.unregister("module-study")
        sys.modules.pop("my_module_study", None)
    with pytest.raises(SystemExit) as info:
        main(["run", "x", "--module", "no_such_module_anywhere"])
    assert info.value.code == 2
    assert "cannot import the experiment module 'no_such_module_anywhere'" in capsys.readouterr().err


def test_register_refuses_a_name_an_entry_point_declares():
    study = ex.get("shuffling-rates")
    clone = ex.Experiment(name="shuffling-rates", summary="a clone", run=study.run)
    with pytest.raises(ValueError, match="already registered"):
        ex.register(clone)
