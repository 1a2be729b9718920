"""Training quantized MLPs against full precision: training steps per second in optcore's engine.

What is measured
----------------
R = --nets networks (64, W, W, 10), softmax cross-entropy, on scikit-learn's digits (1437 training examples),
trained by one ``optcore.run_sgd`` call (random reshuffling, batch --batch, step 0.05, --epochs epochs,
threads=--threads, recording the objective at epoch ends), for each variant:

* ``full precision``: ReLU activations, plain SGD (NetworkProblem);
* ``2-bit activations``: activation="quantized" (2 bits, clipped-ReLU STE), float weights;
* ``BinaryConnect 1-bit``: binary weights (mean |w| sign w) and 1-bit activations, rho = 0;
* ``BCGD 1-bit``: the same with the blended update, rho = 0.01;
* ``BCGD ternary 2-bit``: ternary weights and 2-bit activations, rho = 0.01;
* ``... learned alpha``: the two BCGD variants with the activation resolutions learned per hidden layer
  (``learn_alpha=True``: one example at a time through MLP::forward / backward with the alphas).

Metric: network-steps per second = R * steps / median wall time of --repeats calls (one call each), and the ratio
to full precision.

    PYTHONPATH=python python bench/bench_quantized.py [--nets 16] [--width 64] [--epochs 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import optcore
from optcore.dynamics.digits import digits_split
from optcore.nn import MLP, NetworkProblem
from optcore.quantized import QuantizedNetworkProblem


def variants(width: int):
    widths = [64, width, width, 10]
    act2 = {"activation": "quantized", "act_bits": 2, "act_alpha": 0.25}
    act1 = {"activation": "quantized", "act_bits": 1, "act_alpha": 0.5}
    return [
        ("full precision", MLP(widths, loss="softmax_ce"), None),
        ("2-bit activations", MLP(widths, loss="softmax_ce", **act2), None),
        ("BinaryConnect 1-bit", MLP(widths, loss="softmax_ce", **act1), {"weights": "binary", "rho": 0.0}),
        ("BCGD 1-bit", MLP(widths, loss="softmax_ce", **act1), {"weights": "binary", "rho": 0.01}),
        ("BCGD ternary 2-bit", MLP(widths, loss="softmax_ce", **act2), {"weights": "ternary", "rho": 0.01}),
        ("BCGD 1-bit, learned alpha", MLP(widths, loss="softmax_ce", **act1),
         {"weights": "binary", "rho": 0.01, "learn_alpha": True}),
        ("BCGD ternary 2-bit, learned alpha", MLP(widths, loss="softmax_ce", **act2),
         {"weights": "ternary", "rho": 0.01, "learn_alpha": True}),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nets", type=int, default=16)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    X, y, _, _ = digits_split(0.2, 0)
    rows = []
    base = None
    for name, mlp, quant in variants(args.width):
        problem = NetworkProblem(mlp, X, y) if quant is None else QuantizedNetworkProblem(mlp, X, y, **quant)
        learned = quant is not None and quant.get("learn_alpha", False)
        x0 = problem.init(args.nets, seed=0, alpha=mlp.act_alpha) if learned else mlp.init(args.nets, seed=0)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            res = optcore.run_sgd(problem, epochs=args.epochs, step_size=0.05, batch_size=args.batch, x0=x0,
                                  seed=0, threads=args.threads, record=("objective",))
            times.append(time.perf_counter() - start)
        steps = res.meta["steps_per_epoch"] * args.epochs
        rate = args.nets * steps / float(np.median(times))
        base = base or rate
        rows.append((name, rate, rate / base))
    print(f"optcore {optcore.__version__}, {platform.processor() or platform.machine()}, nets={args.nets}, "
          f"widths=(64, {args.width}, {args.width}, 10), batch={args.batch}, threads={args.threads}\n")
    print("| variant | network-steps/s | vs full precision |\n|---|---:|---:|")
    for name, rate, ratio in rows:
        print(f"| {name} | {rate:,.0f} | {ratio:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
