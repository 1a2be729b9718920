"""Whether two source trees give the same results, bit for bit: run_sgd and the MLP methods on a set of calls (good
and bad arguments, diverging runs, non-finite inputs and outputs), with their arrays, meta (but the time), warnings
and error messages. For changes meant to leave every result as it was (the per-call overhead work of issue 18).

    python bench/same_results.py --trees /work/main/python python      # each tree in a fresh process
    python bench/same_results.py OUT.pkl                               # this process's optcore, pickled to OUT.pkl

Every call is made twice in a row (the second may reuse what the first prepared). The run_sgd calls include a grid
of runs that share their order (incremental, FlipFlop-IG, one explicit order for all), which go through the vector-
lane kernels (lanes.hpp): every compile-time dimension's kernel, 1 to 4 chunks of lanes, l2 = 0 and l2 > 0, float64
and float32, each problem with a lane coefficient. Set OPTCORE_ISA to compare one compiled copy of each tree.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

import optcore
from optcore.nn import MLP, NetworkProblem


def _array(v):
    return None if v is None else (v.dtype.str, v.shape, v.tobytes())


def _result(r) -> dict:
    out = {name: _array(getattr(r, name))
           for name in ("x", "steps", "epochs", "gap", "dist", "objective", "iterates", "accuracy", "diverged")}
    meta = dict(r.meta)
    meta.pop("elapsed_s")
    out["x0"] = _array(meta.pop("x0"))
    out["meta"] = repr(sorted(meta.items()))
    out["explicit"] = _array(r._explicit_orders)
    return out


def _call(fn, *args, **kwargs):
    """(result, error text, [(warning class, message)]) of fn(*args, **kwargs)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, error = fn(*args, **kwargs), None
        except Exception as exc:  # noqa: BLE001 -- the error is part of the result
            result, error = None, f"{type(exc).__name__}: {exc}"
    return result, error, [(type(w.message).__name__, str(w.message)) for w in caught]


def _sgd_cases(rng):
    ls = optcore.LeastSquares(rng.standard_normal((10, 5)), rng.standard_normal(10))
    ls32 = optcore.LeastSquares.random(12, 4, seed=1, dtype=np.float32)
    logistic = optcore.Logistic(rng.standard_normal((16, 3)), np.sign(rng.standard_normal(16)), l2=0.1)
    big = optcore.LeastSquares.random(200, 20, seed=0, noise=0.1)
    net = MLP([3, 5, 1], activation="tanh")
    network = NetworkProblem(net, rng.standard_normal((16, 3)), rng.standard_normal(16))
    cases = []
    for prob in (ls, ls32, logistic, big):
        d = prob.dim
        for order in ("random_reshuffling", "with_replacement", "single_shuffle", "incremental", "flipflop_rr"):
            cases.append((prob, dict(order=order, epochs=2, step_size=0.01, runs=3, threads=1)))
        cases += [
            (prob, dict(order="rr", epochs=3, step_size=0.02, x0=np.ones(d), seed=5, record=("objective",))),
            (prob, dict(order="rr", epochs=2, step_size=[0.01, 0.02], record_every=3, record_iterates=True)),
            (prob, dict(epochs=1, step_size=0.01, runs=2, batch_size=2, seed=[3, 4])),
            (prob, dict(epochs=1, step_size=0.01, runs=1)),
            (prob, dict(epochs=1, step_size=0.01, runs=2, x0=np.ones((2, d)), run_ids=[5, 9])),
            (prob, dict(epochs=4, step_size=1e6, runs=2)),  # both diverge
            (prob, dict(epochs=4, step_size=[0.01, 1e6], runs=2)),  # one diverges
            (prob, dict(epochs=1, step_size=-1.0)),  # refused
            (prob, dict(epochs=1, step_size=0.01, runs=2, x0=np.ones((3, d)))),  # refused
            (prob, dict(epochs=1, step_size=0.01, x0=np.full(d, np.nan))),  # refused
        ]
    x0 = net.init(2, seed=1)
    cases += [
        (network, dict(epochs=2, step_size=0.05, runs=2, batch_size=4, x0=x0)),
        (network, dict(epochs=2, step_size=0.05, runs=2, x0=x0, seed=3)),
        (network, dict(epochs=2, step_size=50.0, runs=2, x0=x0 * 100)),
    ]
    return cases


def _targets(m: MLP, rng, Y):
    k = int(m.widths[-1])
    if m.loss == "logistic":
        return np.sign(Y)
    if m.loss == "softmax_ce":
        return (np.abs(Y) * 3 % 3).astype(int).astype(float)
    return Y if k == 1 else rng.standard_normal((len(Y), k))


def _lane_cases(rng):
    """Runs sharing their order (the lane kernels): dimensions, run counts (chunks), ridge, dtypes, problems."""
    cases = []
    for d in (1, 3, 8, 9, 16, 20, 23, 32):
        n = 40
        A = rng.standard_normal((n, d))
        b, y = rng.standard_normal(n), np.sign(rng.standard_normal(n))
        problems = [optcore.LeastSquares(A, b), optcore.LeastSquares(A, b, l2=0.05),
                    optcore.LeastSquares(A.astype(np.float32), b.astype(np.float32)),
                    optcore.Logistic(A, y), optcore.Exponential(A, y, l2=0.01),
                    optcore.HuberRegression(A, b, delta=0.5), optcore.SquaredHinge(A, y),
                    optcore.PoissonRegression(A * 0.1, np.abs(np.round(b * 3)))]
        for prob in problems:
            for runs in (1, 5, 13, 16, 17, 70):
                cases.append((prob, dict(order="incremental", epochs=3, step_size=0.01, runs=runs, threads=1,
                                         x0=rng.standard_normal((runs, d)).astype(prob.dtype))))
            cases.append((prob, dict(order="flipflop_ig", epochs=4, step_size=list(np.linspace(0.005, 0.02, 33)),
                                     runs=33, record_every=7, record_iterates=True, threads=1)))
            order = rng.permutation(n)[None, None, None, :].repeat(2, axis=1)
            cases.append((prob, dict(order=order, epochs=2, step_size=0.01, runs=9, threads=1)))
    return cases


def main() -> list:
    """The calls' results, in order."""
    out = []
    rng = np.random.default_rng(0)
    for prob, kw in _sgd_cases(rng) + _lane_cases(rng):
        for rep in range(2):
            r, err, ws = _call(optcore.run_sgd, prob, **kw)
            out.append(("run_sgd", repr(kw)[:200], rep, None if r is None else _result(r), err, ws))
    rebound = optcore.LeastSquares.random(10, 3, seed=3)  # an attribute rebound between calls
    for rep in range(2):
        r, err, ws = _call(optcore.run_sgd, rebound, epochs=1, step_size=0.01)
        out.append(("rebound", rep, _result(r), err, ws))
        rebound.A = rebound.A * 2
        rebound.l2 = 0.5
    X, Y = rng.standard_normal((8, 3)), rng.standard_normal(8)
    nets = [MLP([3, 4, 1], activation="tanh"), MLP([3, 4, 2], activation="relu", dtype=np.float32),
            MLP([3, 4, 1], activation="tanh", loss="logistic"), MLP([3, 4, 3], activation="relu", loss="softmax_ce"),
            MLP([3, 4, 1], activation="quantized", act_bits=2)]
    for m in nets:
        Ym, p = _targets(m, rng, Y), m.init(2, seed=0)
        inputs = [(p[0], X, Ym), (p, X, Ym), (p[0] * 1e200, X, Ym), (p[0] * 1e160, X, Ym), (p[0] * 1e25, X, Ym),
                  (p[0], X.astype(np.float32), Ym), (p[0], np.where(X > 1, np.nan, X), Ym), (p[0], X, Ym * 3),
                  (list(p[0]), X, Ym)]
        for what in ("loss_and_grad", "loss_value", "accuracy", "forward", "per_example_grads", "hessian"):
            for args in inputs:
                r, err, ws = _call(getattr(m, what), *(args if what != "forward" else args[:2]), threads=1)
                values = None if r is None else [np.asarray(v) for v in (r if isinstance(r, tuple) else (r,))]
                out.append(("mlp", repr(m), what, None if values is None else
                            [(type(v).__name__, *_array(v)) for v in values], err, ws))
        directions = (rng.standard_normal(m.n_params).astype(m.dtype),
                      rng.standard_normal((2, m.n_params)).astype(m.dtype), np.full(m.n_params, np.nan),
                      rng.standard_normal(m.n_params) * 1e300)
        for v in directions:
            for params in (p[0], p, p * 1e160):
                r, err, ws = _call(m.hvp, params, X, Ym, v, threads=1)
                out.append(("hvp", repr(m), _array(r), err, ws))
        loss, grad = m.loss_and_grad(p[0], X, Ym, threads=1)
        out.append(("types", type(loss).__name__, type(grad).__name__, grad.shape))
    return out


def _compare(trees) -> int:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, tree in enumerate(trees):
            path = Path(tmp, f"{i}.pkl")
            env = dict(os.environ, PYTHONPATH=str(Path(tree).resolve()))
            subprocess.run([sys.executable, "-W", "ignore", __file__, str(path)], env=env, check=True)
            results.append(pickle.loads(path.read_bytes()))
    first, *others = results
    bad = 0
    for tree, other in zip(trees[1:], others, strict=True):
        if len(other) != len(first):
            print(f"{tree}: {len(other)} calls, {trees[0]}: {len(first)}")
            return 1
        for a, b in zip(first, other, strict=True):
            if a != b:
                bad += 1
                if bad <= 5:
                    print(f"differs: {str(a)[:200]}\n     vs: {str(b)[:200]}")
    print(f"{len(first)} calls, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "--trees":
        sys.exit(_compare(sys.argv[2:]))
    Path(sys.argv[1]).write_bytes(pickle.dumps(main()))
