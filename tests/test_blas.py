"""Loading OpenBLAS for the wide-layer pass (optcore._blas): the choice, the fallback when it is missing, and no
side effects on NumPy's and SciPy's own BLAS. Checks that depend on import-time state run in a fresh interpreter."""

import ctypes
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import optcore
from optcore import _blas, _core
from optcore.nn import MLP


def fresh_python(code: str, **env) -> str:
    """stdout of `code` run in a new interpreter with extra environment variables."""
    full_env = {**os.environ, **env}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=full_env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def restore_blas():
    before = _blas.info()["backend"]
    yield
    _blas.load("auto" if before == "openblas" else "none")


def test_openblas_is_loaded_by_default():
    info = _blas.info()
    if info["backend"] != "openblas":
        pytest.skip(f"OpenBLAS is not usable here: {info['reason']}")
    assert _core._gemm_backend() == "blas"
    assert "scipy_openblas" in str(info["library"])


def test_environment_variable_forces_the_fallback():
    out = fresh_python(
        """
        import numpy as np, optcore
        from optcore import _blas, _core
        net = optcore.MLP([3, 90, 1])
        X = np.random.default_rng(0).standard_normal((20, 3))
        F, g = net.loss_and_grad(net.init(1, seed=0)[0], X, X[:, 0])
        print(_blas.info()["backend"], _core._gemm_backend(), bool(np.isfinite(F)), bool(np.all(np.isfinite(g))))
        """,
        OPTCORE_BLAS="none",
    )
    assert out.split() == ["fallback", "fallback", "True", "True"]


def test_bad_environment_variable_is_a_clear_error():
    code = "import optcore"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "OPTCORE_BLAS": "mkl"}
    )
    assert out.returncode != 0
    assert "OPTCORE_BLAS must be one of auto, openblas, none; got 'mkl'" in out.stderr


def test_bad_choice_is_a_clear_error(restore_blas):
    with pytest.raises(ValueError, match="argument 'choice' must be one of"):
        _blas.load("blis")


def test_missing_library_falls_back_and_still_computes(restore_blas, monkeypatch):
    monkeypatch.setattr(_blas.importlib.util, "find_spec", lambda name: None)
    assert _blas.load() == "fallback"
    assert "not installed" in _blas.info()["reason"]
    assert _core._gemm_backend() == "fallback"
    with pytest.raises(RuntimeError, match="OpenBLAS not usable: the scipy-openblas32 package is not installed"):
        _blas.load("openblas")
    net = MLP([3, 80, 1])
    X = np.random.default_rng(0).standard_normal((10, 3))
    F, g = net.loss_and_grad(net.init(1, seed=0)[0], X, X[:, 0])
    assert np.isfinite(F) and np.all(np.isfinite(g))


def test_library_without_the_symbols_falls_back(restore_blas, monkeypatch):
    monkeypatch.setattr(_blas, "_open", lambda path: ctypes.CDLL(None))  # the process itself: no scipy_cblas_*
    assert _blas.load() == "fallback"
    assert "OpenBLAS not usable" in _blas.info()["reason"]


def test_symbols_stay_private_and_other_blas_keep_their_threads():
    """Our OpenBLAS is loaded RTLD_LOCAL, so SciPy's bundled OpenBLAS (same scipy_ symbol names) keeps its calls;
    NumPy's and SciPy's thread counts are what they are without optcore."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    del threadpoolctl
    code = """
        import ctypes, json, sys
        import numpy, scipy.linalg
        from threadpoolctl import threadpool_info
        def others():
            return sorted((i["filepath"], i["num_threads"]) for i in threadpool_info()
                          if i["user_api"] == "blas" and "scipy_openblas32" not in i["filepath"])
        before = others()
        import optcore
        from optcore import _blas
        scipy.linalg.blas.dgemm(1.0, numpy.ones((3, 3)), numpy.ones((3, 3)))
        after = others()
        try:
            ctypes.CDLL(None).scipy_cblas_dgemm
            exported = True
        except AttributeError:
            exported = False
        print(json.dumps({"before": before, "after": after, "exported": exported,
                          "backend": _blas.info()["backend"]}))
        """
    out = json.loads(fresh_python(code).strip().splitlines()[-1])
    assert out["before"] == out["after"]
    assert out["before"], "threadpoolctl found no NumPy/SciPy BLAS to compare"
    if out["backend"] == "openblas":
        assert not out["exported"]


def test_openblas_runs_single_threaded():
    if _blas.info()["backend"] != "openblas":
        pytest.skip(f"OpenBLAS is not usable here: {_blas.info()['reason']}")
    handle = _blas._handle
    assert handle.scipy_openblas_get_num_threads() == 1


def test_run_sgd_works_on_the_fallback(restore_blas):
    _blas.load("none")
    net = MLP([3, 70, 1])
    X = np.random.default_rng(0).standard_normal((16, 3))
    res = optcore.run_sgd(
        optcore.NetworkProblem(net, X, X[:, 0]), order="rr", epochs=3, batch_size=4, step_size=0.05, runs=2
    )
    assert np.all(np.isfinite(res.x)) and res.objective[:, -1].max() < res.objective[:, 0].max()
