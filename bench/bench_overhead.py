"""Per-call overhead of the Python layer: run_sgd on a tiny problem and MLP.loss_and_grad on a tiny net.

    python bench/bench_overhead.py                      # medians of 7 repeats of 2000 calls
    python bench/bench_overhead.py --profile            # and a cProfile of each call's Python layer
    python bench/bench_overhead.py --trees /work/main/python python   # before/after: two source trees
    python bench/bench_overhead.py --repeats 9 --calls 5000 --markdown bench/results/overhead.md

Each repeat times `calls` back-to-back calls and reports the mean time per call, in thread CPU time (the load of a
shared machine does not enter) and wall time; the table shows the medians over repeats, interleaved (run_sgd
repeat, loss_and_grad repeat, core repeat, ...) so that a change of the machine's load hits every row alike. The
rows "... alone" call the compiled core directly with the arguments the wrapper built, prepared once (the plan's
compiled run and _core.mlp_eval_checked; in older trees _core.run_sgd and _core.mlp_eval): the difference to the
full call is what the Python wrapper costs. 1 thread, pinned to one CPU. With --trees, each
repeat runs once per tree (a fresh process with that tree on PYTHONPATH), alternating, so the trees are compared
side by side.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import finish_report, pin_to_one_cpu  # noqa: E402

import optcore  # noqa: E402
from optcore import _core  # noqa: E402
from optcore.nn import MLP  # noqa: E402


def _cases():
    """{name: zero-argument callable}: the calls whose per-call time is measured."""
    rng = np.random.default_rng(0)
    problem = optcore.LeastSquares(rng.standard_normal((10, 5)), rng.standard_normal(10))
    net = MLP([3, 4, 1], activation="tanh")
    X, Y = rng.standard_normal((8, 3)), rng.standard_normal(8)
    params = net.init(1, seed=0)[0]

    def sgd():
        return optcore.run_sgd(problem, order="random_reshuffling", epochs=1, step_size=0.01, runs=1, threads=1)

    def grad():
        return net.loss_and_grad(params, X, Y, threads=1)

    # the core calls the wrappers make: in trees with prepared plans (_core.prepare_sgd), the plan's run(x, keys,
    # run ids), which also allocates and checks the records, and mlp_eval_checked, which also checks the inputs
    # and outputs; in older trees _core.run_sgd and _core.mlp_eval with the arguments the wrapper built
    eval_name = "mlp_eval_checked" if hasattr(_core, "mlp_eval_checked") else "mlp_eval"
    eval_args, mlp_eval_core = _captured(_core, eval_name, grad), getattr(_core, eval_name)
    if hasattr(_core, "prepare_sgd"):
        planned = optcore.sgd_plan(problem, order="random_reshuffling", epochs=1, step_size=0.01, runs=1, threads=1)
        planned.run(seed=0)  # prepares the compiled call
        prepared = planned._prepared
        x, keys, ids = np.zeros((1, problem.dim)), np.zeros(1, dtype=np.uint64), np.zeros(1, dtype=np.uint32)
        core_sgd = ("the plan's compiled run(x, keys, run_ids) alone", lambda: prepared.run(x, keys, ids))
    else:
        sgd_args, run_sgd_core = _captured(_core, "run_sgd", sgd), _core.run_sgd
        core_sgd = ("_core.run_sgd alone (the wrapper's arguments)", lambda: run_sgd_core(*sgd_args))

    cases = {"run_sgd (R = 1, 1 epoch, n = 10, d = 5, least squares)": sgd}
    if hasattr(optcore, "sgd_plan"):  # the same call with its arguments checked once (not in older trees)
        plan = optcore.sgd_plan(problem, order="random_reshuffling", epochs=1, step_size=0.01, runs=1, threads=1)
        cases["sgd_plan(...).run(seed=0), the same run"] = lambda: plan.run(seed=0)
    cases.update({
        "MLP.loss_and_grad (3-4-1 tanh, n = 8)": grad,
        core_sgd[0]: core_sgd[1],
        f"_core.{eval_name} alone (the wrapper's arguments)": lambda: mlp_eval_core(*eval_args),
    })
    return cases


def _captured(module, name, call):
    """The positional arguments `call()` passes to module.name (called once, through a recording wrapper)."""
    original, seen = getattr(module, name), []

    def record(*args):
        seen.append(args)
        return original(*args)

    setattr(module, name, record)
    try:
        call()
    finally:
        setattr(module, name, original)
    return seen[0]


def _per_call_us(fn, calls: int) -> tuple[float, float]:
    """(thread CPU us, wall us) per call, over `calls` calls."""
    cpu0, start = time.thread_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.thread_time() - cpu0) / calls * 1e6, (time.perf_counter() - start) / calls * 1e6


def _profile(name, fn, calls) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
    return f"### {name}\n\n```\n{out.getvalue().strip()}\n```\n"


def _measure(repeats: int, calls: int) -> dict:
    """{case: [(cpu us, wall us) per repeat]} in this process (pinned to one CPU)."""
    cases = _cases()
    for fn in cases.values():  # warm-up: imports, first-call caches
        _per_call_us(fn, 50)
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            times[name].append(_per_call_us(fn, calls))
    return times


def _in_tree(tree: str, calls: int) -> dict:
    """One repeat of every case in a fresh process importing optcore from `tree`."""
    env = dict(os.environ, PYTHONPATH=str(Path(tree).resolve()))
    proc = subprocess.run([sys.executable, __file__, "--worker", "--calls", str(calls)], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--trees", nargs="+", help="source trees (folders holding the optcore package) to compare")
    ap.add_argument("--profile", action="store_true", help="append a cProfile (sorted by own time) of each case")
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    cpus = pin_to_one_cpu()
    if args.worker:
        print(json.dumps({"times": _measure(1, args.calls), "from": str(Path(optcore.__file__).parent),
                          "isa": _core.isa_info()}))
        return 0
    trees = args.trees or [None]
    times, origin = {}, {}
    for _ in range(args.repeats):
        for tree in trees:
            if tree is None:
                got = {"times": _measure(1, args.calls), "from": str(Path(optcore.__file__).parent),
                       "isa": _core.isa_info()}
            else:
                got = _in_tree(tree, args.calls)
            origin[tree] = f"{got['from']} (isa {got['isa']})"
            for name, ts in got["times"].items():
                times.setdefault((name, tree), []).extend(ts)
    names = list(dict.fromkeys(name for name, _ in times))  # the cases in the order measured (trees may differ)
    times = dict(sorted(times.items(), key=lambda item: names.index(item[0][0])))

    load = os.getloadavg()
    lines = ["| call | optcore from | median CPU us/call | min | max | median wall us/call |",
             "|---|---|---:|---:|---:|---:|"]
    for (name, tree), ts in times.items():  # grouped by case, the trees side by side
        cpu = [t[0] for t in ts]
        wall = [t[1] for t in ts]
        lines.append(f"| {name} | {tree or 'this process'} | {np.median(cpu):.1f} | {min(cpu):.1f} | {max(cpu):.1f} | "
                     f"{np.median(wall):.1f} |")
    report = (
        "## Per-call overhead\n\n" + "\n".join(lines) + "\n\n"
        f"- {args.repeats} interleaved repeats of {args.calls} calls each; pinned to CPU {cpus}, threads=1\n"
        f"- load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)\n"
        + "".join(f"- {tree or 'this process'}: optcore from {where}\n" for tree, where in origin.items())
        + f"- Python {platform.python_version()}, numpy {np.__version__}\n"
    )
    if args.profile:
        report += "\n" + "".join(_profile(name, fn, args.calls) for name, fn in _cases().items())
    return finish_report(report, [], args.markdown)


if __name__ == "__main__":
    sys.exit(main())
