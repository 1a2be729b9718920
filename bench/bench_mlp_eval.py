"""MLP.loss_and_grad against the same full-batch gradient inside run_sgd, per instruction-set copy.

    python bench/bench_mlp_eval.py                       # W = 64, batch 256, float64; 7 interleaved repeats
    python bench/bench_mlp_eval.py --width 16 64 256 --batch 256 --dtype float32 float64

The network is 10-W-W-1 (tanh, squared loss, biases), X ~ N(0, I) with n = batch rows. "loss_and_grad" is one call
of MLP.loss_and_grad(params, X, Y) (the objective and its full gradient, through _core.mlp_eval); "in run_sgd" is
the time of one step of run_sgd(NetworkProblem(net, X, Y), order="incremental", batch_size=n, record=()) -- one
full-batch gradient (its forward pass included) and an update -- from a call of 200 steps divided by 200. Both in
thread CPU time, 1 thread pinned to one CPU, each copy forced with OPTCORE_ISA; medians of interleaved repeats.
The issue's target: loss_and_grad within 1.3x of the step inside run_sgd.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import finish_report, pin_to_one_cpu  # noqa: E402

import optcore  # noqa: E402
from optcore import _core  # noqa: E402
from optcore.nn import MLP, NetworkProblem  # noqa: E402

STEPS = 200


def _cpu_us(fn, calls: int) -> float:
    t0 = time.thread_time()
    for _ in range(calls):
        fn()
    return (time.thread_time() - t0) / calls * 1e6


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--width", type=int, nargs="+", default=[64])
    ap.add_argument("--batch", type=int, nargs="+", default=[256])
    ap.add_argument("--dtype", nargs="+", default=["float64"], choices=["float32", "float64"])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args(argv)
    cpu = pin_to_one_cpu()
    isas = _core.isa_info()["usable"].split(",")
    rng = np.random.default_rng(0)
    lines = ["| W | batch | dtype | copy | loss_and_grad (us) | step in run_sgd (us) | ratio |",
             "|---:|---:|---|---|---:|---:|---:|"]
    for W in args.width:
        for n in args.batch:
            for dt in args.dtype:
                net = MLP([10, W, W, 1], activation="tanh", dtype=dt)
                X, Y = rng.standard_normal((n, 10)), rng.standard_normal(n)
                problem = NetworkProblem(net, X, Y)
                params = net.init(1, seed=0)[0]
                x0 = params.copy()
                calls = max(1, int(2e5 / (n * W * W / 64 + 1)))

                def grad():
                    return net.loss_and_grad(params, X, Y, threads=1)

                def steps():
                    return optcore.run_sgd(problem, order="incremental", epochs=STEPS, step_size=1e-4,
                                           batch_size=n, x0=x0, record=(), threads=1)

                times = {isa: ([], []) for isa in isas}
                for isa in isas:  # warm-up
                    os.environ["OPTCORE_ISA"] = isa
                    grad(), steps()
                for _ in range(args.repeats):
                    for isa in isas:
                        os.environ["OPTCORE_ISA"] = isa
                        times[isa][0].append(_cpu_us(grad, calls))
                        times[isa][1].append(_cpu_us(steps, max(1, calls // STEPS)) / STEPS)
                os.environ.pop("OPTCORE_ISA")
                for isa in isas:
                    g, s = np.median(times[isa][0]), np.median(times[isa][1])
                    lines.append(f"| {W} | {n} | {dt} | {isa} | {g:.1f} | {s:.1f} | {g / s:.2f} |")
                print(lines[-1], flush=True)
    load = os.getloadavg()
    report = ("## MLP.loss_and_grad against the step inside run_sgd\n\n" + "\n".join(lines) + "\n\n"
              f"- network 10-W-W-1 tanh, squared loss; medians of {args.repeats} interleaved repeats, thread CPU time, "
              f"pinned to CPU {cpu}; ratio = loss_and_grad / step\n"
              f"- load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; isa_info {_core.isa_info()}\n")
    return finish_report(report, [], args.markdown)


if __name__ == "__main__":
    sys.exit(main())
