"""The compiled copies of the training loops (portable, AVX2, AVX-512; cpp/include/optcore/isa.hpp) give the same
bits (the network evaluations: tests/test_isa_copies.py).

OPTCORE_ISA forces one copy; a copy the CPU lacks is refused, never replaced. Each comparison runs on the CPUs that
have the copy and is skipped elsewhere with the reason (this project's CI machine has AVX2 and no AVX-512).
"""

import numpy as np
import pytest
from conftest import PROBLEM_KINDS, make_problem

import optcore
from optcore import _core
from optcore.nn import MLP, NetworkProblem

INFO = _core.isa_info()
WIDE = [isa for isa in ("avx2", "avx512") if INFO[f"{isa}_copy_built"]]


def _skip_unless_supported(isa):
    if not INFO[f"{isa}_supported"]:
        pytest.skip(f"CPU lacks {'avx512f' if isa == 'avx512' else 'avx2'} (the {isa} copy is built but cannot run here)")


SETTINGS = [
    dict(order="rr"),  # orders of their own: the interleaved kernels
    dict(order="ig"),  # all runs share the order: the vector-lane kernels
    dict(order="wr", batch_size=3),
    dict(order="ss", workers=2, mode="local", sync_every=2),
    dict(order="rr", batch_size=10**9),  # full batch: the matrix-vector passes, objective from the same pass
]


def _run(problem, setting, **kw):
    setting = dict(setting)
    if setting.get("batch_size") == 10**9:
        setting["batch_size"] = problem.n
    opts = dict(epochs=3, step_size=np.linspace(0.01, 0.05, 13) * min(1.0, 3.0 / problem.dim), x0=np.zeros(problem.dim),
                seed=42, record=("objective",))
    opts.update(setting, **kw)
    return optcore.run_sgd(problem, **opts)


def test_isa_info_names_the_copy_auto_picks():
    assert INFO["auto"] in ("portable", "avx2", "avx512")
    assert INFO["auto"] == ("avx512" if INFO["avx512_supported"] else "avx2" if INFO["avx2_supported"] else "portable")


def test_an_unknown_copy_is_refused(monkeypatch):
    problem = optcore.LeastSquares.random(10, 2, seed=0)
    monkeypatch.setenv("OPTCORE_ISA", "sse9")
    with pytest.raises(ValueError, match="isa='sse9' is not a copy of the loops"):
        optcore.run_sgd(problem, epochs=1, step_size=0.1)


@pytest.mark.parametrize("isa", WIDE)
def test_a_copy_the_cpu_lacks_is_refused_not_replaced(isa, monkeypatch):
    if INFO[f"{isa}_supported"]:
        pytest.skip(f"this CPU has {isa}")
    problem = optcore.LeastSquares.random(10, 2, seed=0)
    monkeypatch.setenv("OPTCORE_ISA", isa)
    with pytest.raises(ValueError, match=f"isa='{isa}' requested .* this CPU lacks"):
        optcore.run_sgd(problem, epochs=1, step_size=0.1)
    with pytest.raises(ValueError, match="this CPU lacks"):
        _core.elementary("exp", np.zeros(3), isa)


@pytest.mark.parametrize("isa", WIDE)
@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
@pytest.mark.parametrize("kind", PROBLEM_KINDS)
def test_every_copy_gives_the_portable_bits(isa, kind, setting, dtype, monkeypatch):
    _skip_unless_supported(isa)
    results = {}
    for dim in (3, 20, 37):  # compile-time kernels (d <= 32) and run-time d
        problem = make_problem(kind, dtype, d=1 if kind == "lower_bound" else dim)
        for copy in ("portable", isa):
            monkeypatch.setenv("OPTCORE_ISA", copy)
            results[copy] = _run(problem, setting)
        np.testing.assert_array_equal(results["portable"].x, results[isa].x)
        np.testing.assert_array_equal(results["portable"].objective, results[isa].objective)


@pytest.mark.parametrize("isa", WIDE)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", [16, 100])  # lanes / small kernels, and matrix products (wider than 64)
def test_every_copy_trains_networks_to_the_portable_bits(isa, dtype, width, monkeypatch):
    _skip_unless_supported(isa)
    widths = [5, width, 3]
    net = MLP(widths, activation="tanh", loss="softmax_ce", dtype=dtype)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5)).astype(dtype)
    Y = rng.integers(0, 3, 40)
    results = {}
    for copy in ("portable", isa):
        monkeypatch.setenv("OPTCORE_ISA", copy)
        # 9 runs: a group of 8 (the lanes pass at width 16) and one alone; full batches record from the next
        # step's gradient pass, at epoch ends and every step
        results[copy] = [
            optcore.run_sgd(NetworkProblem(net, X, Y), order=order, epochs=3, batch_size=b, step_size=0.05, runs=9,
                            seed=1, x0=net.init(9, seed=0), record=("objective", "accuracy"), record_every=every)
            for order, b, every in (("rr", 8, None), ("incremental", 40, None), ("incremental", 40, 1),
                                    ("incremental", 1, None))
        ]
    for a, b in zip(results["portable"], results[isa], strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.objective, b.objective)
        np.testing.assert_array_equal(a.accuracy, b.accuracy)
