"""Whether two source trees train networks to the same bits: run_sgd on networks over many configurations of what
is recorded (objective, accuracy, both, neither; every step, every few steps, at epoch ends; with and without the
iterates), orders (full batch in order and shuffled, mini-batches, single examples, per-run orders), run counts
(alone, a lanes group and a remainder) and step sizes (some runs diverging), for narrow networks (the lanes and
block passes), wide ones (matrix products) and quantized ones. Compares every result array, the warnings and
errors. For changes meant to leave every result as it was (issue 18: the accuracy from the gradient's forward pass).

    python bench/same_mlp_records.py --trees /work/main/python python   # each tree in a fresh process
    python bench/same_mlp_records.py OUT.pkl                            # this process's optcore, pickled to OUT.pkl
"""

from __future__ import annotations

import itertools
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from same_results import _call, _result

import optcore
from optcore.nn import MLP, NetworkProblem
from optcore.quantized.network import QuantizedNetworkProblem

RECORDS = [(), ("objective",), ("accuracy",), ("objective", "accuracy")]


def _data(widths, loss, n, dtype, rng):
    X = rng.standard_normal((n, widths[0])).astype(dtype)
    k = widths[-1]
    if loss == "softmax_ce":
        Y = rng.integers(0, k, n)
    elif loss in ("logistic", "exponential"):
        Y = np.where(rng.standard_normal(n) > 0, 1.0, -1.0)
    else:
        Y = rng.standard_normal((n, k) if k > 1 else n)
    return X, Y


def _problems(rng):
    """(name, problem, P, runs-and-steps settings)."""
    out = []
    specs = [
        ([4, 6, 5, 1], "relu", "squared", 16),
        ([3, 8, 3], "tanh", "softmax_ce", 6),
        ([3, 40, 1], "softplus", "logistic", 12),
        ([4, 6, 2], "relu", "squared", 10),
        ([10, 16, 1], "relu", "squared", 100),  # the bench's many-nets shape
        ([5, 7, 1], "hardtanh", "exponential", 9),
        ([5, 80, 1], "sigmoid", "squared", 12),  # a hidden layer wider than 64: matrix products
        ([4, 6, 70], "softplus", "softmax_ce", 12),  # a wide output: matrix products
    ]
    for (widths, act, loss, n), dtype in itertools.product(specs, (np.float32, np.float64)):
        net = MLP(widths, activation=act, loss=loss, dtype=dtype)
        X, Y = _data(widths, loss, n, dtype, rng)
        out.append((repr(net), NetworkProblem(net, X, Y), net))
    qnet = MLP([4, 6, 1], activation="quantized", act_bits=2)
    X, Y = _data([4, 6, 1], "squared", 12, np.float64, rng)
    out.append(("quantized binary", QuantizedNetworkProblem(MLP([4, 6, 1], activation="relu"), X, Y), None))
    out.append(("quantized learned alpha", QuantizedNetworkProblem(qnet, X, Y, learn_alpha=True), None))
    return out


def main() -> list:
    rng = np.random.default_rng(0)
    out = []
    for name, prob, net in _problems(rng):
        n = prob.n
        x0 = (net.init(9, seed=1) if net is not None else prob.init(9, seed=1)).astype(prob.dtype)
        steps9 = np.full(9, 0.05)
        steps9[[1, 4, 6]] = [1e3, 1e25, 50.0]  # diverging at different epochs (or not, for the bounded losses)
        run_sets = [dict(x0=x0[0], step_size=0.05), dict(x0=x0, step_size=steps9)]
        orders = [
            dict(order="incremental", batch_size=n),  # full batch in order: records from the next step's pass
            dict(order="rr", batch_size=n),  # full batch shuffled
            dict(order="incremental", batch_size=max(2, n // 4)),  # several steps an epoch
            dict(order="ss", batch_size=1),
            dict(order=np.broadcast_to(np.arange(n), (9, 3, n)).copy(), batch_size=n),  # per-run orders
        ]
        for record, iterates, every, order, runs in itertools.product(
            RECORDS, (False, True), (None, 1, 3), orders, run_sets
        ):
            kw = dict(epochs=3, record=record, record_iterates=iterates, record_every=every, seed=2, **order, **runs)
            if not isinstance(kw["order"], str) and np.ndim(kw["x0"]) == 1:
                kw["order"] = kw["order"][0]
            r, err, ws = _call(optcore.run_sgd, prob, **kw)
            out.append((name, repr({k: v for k, v in kw.items() if k not in ("x0", "order")}),
                        None if r is None else _result(r), err, ws))
    return out


def _compare(trees) -> int:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, tree in enumerate(trees):
            path = Path(tmp, f"{i}.pkl")
            env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(tree).resolve()), str(Path(__file__).parent)]))
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
                    print(f"differs: {str(a)[:300]}\n     vs: {str(b)[:300]}")
    errors = sum(1 for a in first if a[3] is not None)
    diverged = sum(1 for a in first if a[2] is not None and np.frombuffer(a[2]["diverged"][2], bool).any())
    print(f"{len(first)} calls ({errors} refused, {diverged} with diverged runs), {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "--trees":
        sys.exit(_compare(sys.argv[2:]))
    Path(sys.argv[1]).write_bytes(pickle.dumps(main()))
