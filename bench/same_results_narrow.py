"""Whether two source trees give the same bits on networks whose layers are all at most 64 wide (the
register-blocked batch pass, cpp/include/optcore/mlp_small.hpp, whose block layout and block size changed in the
issue-18 `mlpwide` work): run_sgd with batches that fill several blocks, a partial block or one example, every
order, recorded objective and accuracy, several runs and threads, and the MLP methods on the same nets.

    python bench/same_results_narrow.py --trees /work/main/python python     # each tree in a fresh process
    OPTCORE_ISA=portable python bench/same_results_narrow.py --trees ...     # the portable copy (default: widest)
    python bench/same_results_narrow.py OUT.pkl                              # this process's optcore, pickled

Uses bench/same_results.py's helpers (results as bytes, errors and warnings included).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from same_results import _array, _call, _result

import optcore
from optcore.nn import MLP, NetworkProblem

NETS = [  # (widths, dtype, activation, loss, bias)
    ([10, 16, 16, 1], np.float32, "relu", "squared", True),
    ([10, 16, 16, 1], np.float64, "relu", "squared", True),
    ([10, 64, 64, 1], np.float32, "relu", "squared", True),
    ([10, 64, 64, 1], np.float64, "relu", "squared", True),
    ([7, 33, 20, 3], np.float64, "leaky", "squared", True),
    ([5, 40, 1], np.float64, "tanh", "logistic", False),
    ([12, 48, 48, 4], np.float64, "relu", "softmax_ce", True),
    ([3, 64, 1], np.float32, "linear", "squared", False),
    ([64, 8, 64, 1], np.float64, "relu", "squared", True),
]
BATCHES = (1, 7, 32, 33, 100)


def _targets(loss: str, rng, n: int, k: int):
    if loss == "logistic":
        return np.sign(rng.standard_normal(n))
    if loss == "softmax_ce":
        return rng.integers(0, k, n).astype(float)
    return rng.standard_normal((n, k)) if k > 1 else rng.standard_normal(n)


def main() -> list:
    out = []
    rng = np.random.default_rng(7)
    for widths, dtype, act, loss, bias in NETS:
        kwargs = {"slopes": (1.0, 0.1)} if act == "leaky" else {}
        net = MLP(widths, activation=act, loss=loss, bias=bias, dtype=dtype, **kwargs)
        n = 300
        X = rng.standard_normal((n, widths[0])).astype(dtype)
        Y = _targets(loss, rng, n, widths[-1])
        prob = NetworkProblem(net, X, Y)
        x0 = net.init(3, scheme="he", seed=1)
        rec = ("objective", "accuracy") if loss != "squared" else ("objective",)
        calls = [dict(order="incremental", epochs=3, batch_size=n, step_size=0.05, x0=x0[0], record=rec)]
        for b in BATCHES:
            for order in ("incremental", "random_reshuffling", "with_replacement"):
                calls.append(dict(order=order, epochs=2, batch_size=b, step_size=0.02, x0=x0, runs=3, seed=4,
                                  record=rec))
        calls.append(dict(order="random_reshuffling", epochs=2, batch_size=64, step_size=0.02, x0=x0, runs=3,
                          threads=2, record=rec))
        for kw in calls:
            r, err, ws = _call(optcore.run_sgd, prob, **kw)
            out.append(("run_sgd", repr(widths), str(np.dtype(dtype)), repr(kw)[:120], None if r is None else
                        _result(r), err, ws))
        for what in ("loss_and_grad", "loss_value", "accuracy", "per_example_grads"):
            for rows in (1, 37, n):
                r, err, ws = _call(getattr(net, what), x0[0], X[:rows], Y[:rows], threads=1)
                values = None if r is None else [np.asarray(v) for v in (r if isinstance(r, tuple) else (r,))]
                out.append(("mlp", repr(widths), what, rows, None if values is None else
                            [(type(v).__name__, *_array(v)) for v in values], err, ws))
    return out


def _compare(trees) -> int:
    """Run main() under each tree in a fresh process; print how many results differ from the first tree's."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, tree in enumerate(trees):
            path = Path(tmp, f"{i}.pkl")
            env = dict(os.environ, PYTHONPATH=str(Path(tree).resolve()))
            subprocess.run([sys.executable, "-W", "ignore", __file__, str(path)], env=env, check=True)
            results.append(pickle.loads(path.read_bytes()))
    first, *others = results
    bad = 0
    for other in others:
        if len(other) != len(first):
            print(f"{len(other)} results against {len(first)}")
            return 1
        for a, b in zip(first, other, strict=True):
            if a != b:
                bad += 1
                if bad <= 5:
                    print(f"differs: {str(a)[:200]}\n     vs: {str(b)[:200]}")
    print(f"{len(first)} results, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "--trees":
        sys.exit(_compare(sys.argv[2:]))
    Path(sys.argv[1]).write_bytes(pickle.dumps(main()))
