"""The cache: resume without recomputing, corrupt files detected and recomputed, atomic concurrent writes, and a
sweep killed with SIGKILL that resumes where it stopped."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import test_sweep_toy
from test_sweep_toy import COUNTER_ENV, SLEEP_ENV, TOY, make_toy

from optcore import experiments as ex

GRID = {"a": [1, 2, 3], "scale": [1.0, 3.0]}  # 6 configs x 2 seeds = 12 cells


@pytest.fixture
def counter(tmp_path, monkeypatch):
    path = tmp_path / "computed.txt"
    monkeypatch.setenv(COUNTER_ENV, str(path))
    monkeypatch.delenv(SLEEP_ENV, raising=False)

    def count() -> int:
        return len(path.read_text().splitlines()) if path.exists() else 0

    return count


def test_second_run_is_all_cache_hits(tmp_path, counter):
    first = ex.run_sweep(TOY, GRID, cache=tmp_path / "cache")
    assert first.cache_stats == {"dir": str(tmp_path / "cache"), "hits": 0, "misses": 12, "corrupt": 0, "computed": 12}
    assert counter() == 12
    assert len(ex.Cache(tmp_path / "cache").files("toy")) == 12
    second = ex.run_sweep(TOY, GRID, cache=tmp_path / "cache")
    assert (second.cache_stats["hits"], second.cache_stats["computed"]) == (12, 0)
    assert counter() == 12
    pd.testing.assert_frame_equal(second.table, first.table)


def test_growing_the_grid_reuses_finished_cells(tmp_path, counter):
    ex.run_sweep(TOY, {"a": [1, 2]}, cache=tmp_path)
    grown = ex.run_sweep(TOY, {"a": [1, 2, 3]}, cache=tmp_path)
    assert (grown.cache_stats["hits"], grown.cache_stats["computed"]) == (4, 2)
    assert counter() == 6
    more_seeds = ex.run_sweep(TOY, {"a": [1, 2, 3]}, seeds=3, cache=tmp_path)
    assert (more_seeds.cache_stats["hits"], more_seeds.cache_stats["computed"]) == (6, 3)


def test_a_new_code_version_does_not_reuse_old_results(tmp_path, counter):
    ex.run_sweep(TOY, GRID, cache=tmp_path)
    bumped = ex.run_sweep(make_toy(version="2"), GRID, cache=tmp_path)
    assert (bumped.cache_stats["hits"], bumped.cache_stats["computed"]) == (0, 12)
    assert counter() == 24


def _corrupt(path: Path, how: str, other: Path) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif how == "flipped":  # same length, one payload byte changed: only the checksum can tell
        i = len(data) - 10
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :])
    elif how == "other-cell":  # a valid file, but of another cell
        path.write_bytes(other.read_bytes())
    elif how == "bad-header":
        path.write_bytes(b"optcore-cache 1 sha256=xyz\n" + data)


@pytest.mark.parametrize("how", ["truncated", "empty", "garbage", "flipped", "other-cell", "bad-header"])
def test_corrupt_files_are_detected_and_recomputed(tmp_path, counter, how):
    clean = ex.run_sweep(TOY, GRID, cache=tmp_path)
    files = ex.Cache(tmp_path).files("toy")
    victim, other = files[3], files[4]
    _corrupt(victim, how, other)
    with pytest.warns(ex.CacheCorruptionWarning, match=f"{victim.name} is corrupt") as record:
        resumed = ex.run_sweep(TOY, GRID, cache=tmp_path)
    assert len(record) == 1
    assert resumed.cache_stats == {"dir": str(tmp_path), "hits": 11, "misses": 1, "corrupt": 1, "computed": 1}
    assert counter() == 13
    pd.testing.assert_frame_equal(resumed.table, clean.table)
    # the recomputed result replaced the corrupt file
    again = ex.run_sweep(TOY, GRID, cache=tmp_path)
    assert again.cache_stats["hits"] == 12


def test_cache_file_format(tmp_path):
    cache = ex.Cache(tmp_path)
    key = {"experiment": "e", "config": {"x": 1.5}, "seed": 3, "code_version": "v"}
    path = cache.store(key, {"y": float("nan"), "z": 0.1 + 0.2})
    header, payload = path.read_bytes().split(b"\n", 1)
    assert header.startswith(b"optcore-cache 1 sha256=") and header.endswith(f"length={len(payload)}".encode())
    found = cache.lookup(key)
    assert found.status == "hit" and found.result["z"] == 0.1 + 0.2 and found.result["y"] != found.result["y"]
    assert cache.lookup({**key, "seed": 4}).status == "miss"


def test_concurrent_writers_never_expose_a_partial_file(tmp_path):
    cache = ex.Cache(tmp_path)
    key = {"experiment": "e", "config": {}, "seed": 0, "code_version": "v"}
    payloads = [{"blob": "x" * n} for n in (10, 100_000, 1_000, 300_000)]
    stop = threading.Event()
    seen = []

    def write(i):
        while not stop.is_set():
            cache.store(key, payloads[i % len(payloads)])
            i += 1

    def read():
        while not stop.is_set():
            found = cache.lookup(key)  # a corrupt read would warn, and warnings are errors here
            seen.append(found.status)
            if found.status == "hit":
                assert found.result in payloads

    threads = [threading.Thread(target=write, args=(i,)) for i in range(3)] + [threading.Thread(target=read)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    assert seen.count("hit") > 10 and "corrupt" not in seen
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [cache.path(key).name]  # no temporary files left


def test_killed_sweep_resumes_without_recomputing_finished_cells(tmp_path, counter):
    cache = tmp_path / "cache"
    grid = {"a": list(range(12))}
    script = (
        "from optcore.experiments import run_sweep\n"
        "from test_sweep_toy import TOY\n"
        f"run_sweep(TOY, {grid!r}, seeds=1, cache={str(cache)!r})\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(test_sweep_toy.__file__).parent), *sys.path]),
        SLEEP_ENV: "0.25",
    }
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 60
        while len(ex.Cache(cache).files("toy")) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    finished = len(ex.Cache(cache).files("toy"))
    cached = {json.loads(f.read_bytes().split(b"\n", 1)[1])["key"]["config"]["a"] for f in cache.glob("toy/*.cell")}
    computed_before = counter()
    assert 3 <= finished < 12
    assert finished <= computed_before <= finished + 1  # at most one cell was in flight when it was killed

    resumed = ex.run_sweep(TOY, grid, seeds=1, cache=cache)  # a partial file would warn: warnings are errors
    assert resumed.cache_stats["hits"] == finished
    assert resumed.cache_stats["computed"] == 12 - finished
    assert counter() == computed_before + 12 - finished
    lines = (tmp_path / "computed.txt").read_text().splitlines()[computed_before:]
    assert {int(line.split()[0]) for line in lines} == set(range(12)) - cached  # exactly the unfinished cells

    uninterrupted = ex.run_sweep(TOY, grid, seeds=1)
    pd.testing.assert_frame_equal(resumed.table, uninterrupted.table)
