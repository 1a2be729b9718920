"""Worker processes of a sweep: one thread each by default, gone with their parent (kill -9 included), and a clear
message when a worker cannot import the experiment's module."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import test_sweep_toy
from test_sweep_toy import PID_DIR_ENV, SLEEP_ENV, SLEEPY

import optcore
from optcore import experiments as ex
from optcore.experiments.workers import THREAD_ENV, WorkerImportError, run_cell_by_name

PACKAGE_DIR = Path(optcore.__file__).resolve().parents[1]
TESTS_DIR = Path(test_sweep_toy.__file__).resolve().parent


def test_workers_use_one_thread_each_by_default(monkeypatch):
    for name in THREAD_ENV:
        monkeypatch.delenv(name, raising=False)
    result = ex.run_sweep(SLEEPY, {"i": [0, 1]}, workers=2)
    assert result.meta["threads_per_worker"] == 1
    for name in THREAD_ENV:
        assert set(result.table[name]) == {"1"}, name
    assert name not in os.environ  # this process is left alone
    assert set(result.table["blas_threads"]) == {1}  # numpy's OpenBLAS, loaded before the worker's setup
    more = ex.run_sweep(SLEEPY, {"i": [0]}, workers=2, threads_per_worker=3)
    assert more.table["OPTCORE_NUM_THREADS"].tolist() == ["3"]


def _children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaping is left


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_and_resource_tracker_die_with_a_killed_parent(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), str(PACKAGE_DIR)]),
        SLEEP_ENV: "120",
        PID_DIR_ENV: str(pids),
    }
    cmd = [sys.executable, "-m", "optcore", "run", "toy-sleepy", "--module", "test_sweep_toy", "--workers", "2"]
    log = tmp_path / "stderr.txt"
    with open(log, "wb") as stderr:
        parent = subprocess.Popen(
            [*cmd, "--no-cache", "-q", "--out", str(tmp_path / "out")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 90
        while len(list(pids.iterdir())) < 2:
            assert parent.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
        workers = {int(p.stem) for p in pids.iterdir()}
        family = _children(parent.pid)
        assert workers <= family and len(family) >= 3  # two workers and multiprocessing's resource tracker
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in family) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = {pid for pid in family if _alive(pid)}
        assert not survivors, f"still running after the parent was killed: {survivors}"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def _not_importable(config, seed):  # pragma: no cover - never runs: its module name is replaced below
    return {}


def test_a_worker_that_cannot_import_the_experiment_says_so():
    with pytest.raises(WorkerImportError, match=r"cannot import no_such_study_module\.run.*PYTHONPATH"):
        run_cell_by_name("ghost", "no_such_study_module", "run", {}, 0)
    _not_importable.__module__ = "no_such_study_module"
    ghost = ex.Experiment(name="ghost", summary="Its run function lives in a module workers lack.", run=_not_importable)
    with ThreadPoolExecutor(1) as pool, pytest.raises(RuntimeError) as info:
        ex.run_sweep(ghost, executor=pool, seeds=1)
    message = str(info.value)
    assert "cannot import no_such_study_module._not_importable, the run function of experiment 'ghost'" in message
    assert "install it there" in message


def test_a_dask_worker_that_cannot_import_the_experiment_says_so():
    distributed = pytest.importorskip("distributed")
    _not_importable.__module__ = "no_such_study_module"
    ghost = ex.Experiment(name="ghost", summary="Its run function lives in a module workers lack.", run=_not_importable)
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None)
    try:
        with distributed.Client(cluster) as client, pytest.raises(RuntimeError) as info:
            ex.run_sweep(ghost, dask=client, seeds=1)
    finally:
        cluster.close()
    assert "cannot import no_such_study_module._not_importable, the run function of experiment 'ghost'" in str(
        info.value
    )
    assert "Dask workers do not" in str(info.value)
