"""Throughput of batched SGD on least squares: optcore against NumPy, PyTorch and JAX baselines.

What is measured
----------------
Least squares f_i(x) = 1/2 (a_i'x - b_i)^2 with Gaussian A (n=1000, d=20), b = A x_true + 0.1 noise; K=20 epochs
of batch-size-1 SGD with constant step 0.01 from x0 = 0, float64, R independent runs (R in 1, 64, 1024), for the
orders with_replacement, random_reshuffling, single_shuffle and incremental. Every implementation records the
objective gap at each epoch end, as a researcher would (optcore: record=("gap",)).

Metric: component-gradient steps per second = R * n * K / wall time, where the wall time covers the whole call,
order generation included: each implementation draws its own indices inside the timed region (a permutation per
epoch and run for random_reshuffling, one per run for single_shuffle, iid indices for with_replacement, the
identity for incremental). The median over --repeats timed calls is reported; every implementation is warmed up
once on a tiny run first, and JAX is compiled for the exact shapes before timing (compile time excluded).

Implementations (baselines are skipped, with the reason printed, when not installed):

* optcore.run_sgd, threads=T for each T in --threads.
* NumPy: a Python loop over steps, vectorized across the R runs (x of shape (R, d); each step gathers A[idx]
  (R, d), einsum for the residuals, one update). Orders from one numpy Generator (one row per run). NumPy's
  elementwise ops are single-threaded, so it is run once, as threads=1.
* PyTorch eager: the same loop in float64 torch ops, torch.set_num_threads(T).
* JAX: jit(vmap over runs of lax.scan over epochs of lax.scan over steps), float64, orders from jax.random inside
  the jitted function. JAX runs in a subprocess per thread count, pinned with sched_setaffinity to T CPUs; for T=1
  it also sets XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" before importing jax.

Correctness: for incremental order (deterministic) every implementation must reproduce optcore's final iterates
to 1e-10 relative; for the random orders the mean final gap must be within --gap-factor of optcore's. Failures
are listed under the table and make the script exit with status 1.

Native reference and measured peak: bench/native_ref.cpp (compiled here by bench/_native.py with the system g++,
not part of optcore) runs the same problem, orders, steps and epoch-end gap with four runs interleaved, each
gathering its own row, d = 20 a compile-time constant, built with ``-O3 -march=native`` and again with
``-mno-fma``. "x native" is a row's rate over the reference's (same order and R): ratios > 1 mean faster than the
reference. "% FMA peak" is the row's flop rate (a step costs 2d FMAs = 4d flops) over the per-core f64 FMA peak
that the same program measures (independent FMA chains on the widest vectors the CPU has, AVX-512 where present)
times the row's threads. Rows with threads = 1 (and the reference) are pinned to one CPU and timed in thread CPU
time as well as wall time; their ratios to the reference use CPU time, so that the load of a shared machine does
not enter (the table says which clock each ratio used). Repeats are interleaved: every implementation's k-th call
runs before any (k+1)-th.

Cache state: the reference's timed loop starts right after it read its input (A, b, H, x*: in the caches). To time
both sides in the same state, each in-process timed call starts right after its own input arrays were read
(optcore: the problem's A and b; NumPy/Torch: the task's A and b), on the same CPU; before 2026-12-04 they were
not, and each call started with its data evicted by the reference's process (--no-touch restores that). --warm
instead times a call right after an identical untimed one (code, data and allocations warm: a loop of calls).

How to run (by hand; not part of CI)::

    python bench/bench_sgd.py                       # full run: R = 1 64 1024, threads 1 2, 3 repeats
    python bench/bench_sgd.py --quick               # tiny smoke test, a few seconds
    python bench/bench_sgd.py --runs 1 64 --repeats 1 --markdown bench/results/sgd.md
    python bench/bench_sgd.py --max-baseline-runs 64   # optcore at every R, baselines only up to R = 64
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import numpy as np
from _baselines import ORDERS, Task, make_task, run_numpy, run_torch
from _common import available_baselines as find_baselines
from _common import finish_report, pin_to_one_cpu, unpin

import _native

import optcore

INCREMENTAL_RTOL = 1e-10
IMPLEMENTATIONS = ("optcore", "numpy", "torch", "jax", "native", "native_nofma")
HOW = {
    "optcore": "wall time around optcore.run_sgd(..., record=('gap',)), Python wrapper included",
    "numpy": "one Python loop over steps vectorized across runs; single-threaded elementwise ops (threads=1 only)",
    "torch": "eager float64, torch.set_num_threads(threads)",
    "jax": "one subprocess per thread count, pinned with sched_setaffinity to `threads` CPUs; threads=1 also sets "
    "XLA_FLAGS='--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1' before importing jax; "
    "compile/warm-up call with the same shapes not timed",
    "native": "bench/native_ref.cpp built -O3 -march=native (4 runs interleaved, d = 20 at compile time), one process "
    "per call, its loop timed inside it (orders, steps and gaps; not the process start)",
    "native_nofma": "the same built -O3 -march=native -mno-fma",
}
NATIVE = ("native", "native_nofma")


@dataclass
class Row:
    """One (implementation, threads, order, R) measurement."""

    impl: str
    threads: int
    order: str
    R: int
    times: list[float]
    x: np.ndarray
    gap: np.ndarray  # (R, K + 1)
    check: str = ""
    cpu_times: list[float] | None = None  # thread CPU time of each call (threads = 1 rows in this process, native)

    def steps_per_s(self, task: Task) -> float:
        return self.R * task.n * task.epochs / median(self.times)

    def cpu_steps_per_s(self, task: Task) -> float | None:
        return self.R * task.n * task.epochs / median(self.cpu_times) if self.cpu_times else None


# ---------------------------------------------------------------------------------------------------- setup


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, nargs="+", default=None, help="values of R (default 1 64 1024)")
    p.add_argument("--orders", nargs="+", choices=ORDERS, default=list(ORDERS))
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    p.add_argument(
        "--repeats", type=int, default=None, help="timed calls per measurement, interleaved, median reported (5)"
    )
    p.add_argument("--impls", nargs="+", choices=IMPLEMENTATIONS, default=list(IMPLEMENTATIONS))
    p.add_argument(
        "--max-baseline-runs", type=int, default=None, help="skip NumPy/Torch/JAX for R above this (default: none)"
    )
    p.add_argument("--quick", action="store_true", help="tiny smoke test: n=100, K=2, R in 1 8, 1 repeat")
    p.add_argument("--n", type=int, default=None, help="components (default 1000, --quick 100)")
    p.add_argument("--d", type=int, default=20, help="dimension (default 20)")
    p.add_argument("--epochs", type=int, default=None, help="K (default 20, --quick 2)")
    p.add_argument("--step", type=float, default=0.01, help="constant step size (default 0.01)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and of the orders")
    p.add_argument("--gap-factor", type=float, default=10.0, help="allowed ratio of mean final gaps to optcore's")
    p.add_argument(
        "--warm",
        action="store_true",
        help="time each in-process call right after an untimed identical one on the same CPU (a loop of calls:\n"
        "data and code in the caches, as the reference's loop has them after reading its input); without it\n"
        "each timed call follows the other implementations' calls and starts with cold caches",
    )
    p.add_argument(
        "--no-touch",
        action="store_true",
        help="do not read an in-process implementation's input arrays right before its timed call (the reference\n"
        "reads its input right before its timed loop; without the read the call starts with that data evicted)",
    )
    p.add_argument("--markdown", type=Path, default=None, help="also write the report to this file")
    args = p.parse_args(argv)
    args.runs = args.runs or ([1, 8] if args.quick else [1, 64, 1024])
    args.repeats = args.repeats or (1 if args.quick else 5)
    args.n = args.n or (100 if args.quick else 1000)
    args.epochs = args.epochs or (2 if args.quick else 20)
    return args


def usable_cpus() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine_peak(exes, skipped) -> _native.Peak | None:
    """The per-core FMA peak, measured by the reference program on one pinned CPU (None, with a reason, if none)."""
    if not exes:
        return None
    pin_to_one_cpu()
    try:
        return _native.measure_peak(exes["native"])
    except Exception as exc:  # a CPU without AVX2+FMA, a crash: no peak column
        skipped["FMA peak"] = f"not measured ({type(exc).__name__}: {exc})"
        return None
    finally:
        unpin()


def make_problem(args):
    """The optcore problem and the same data as a Task for the baselines (built outside every timed region)."""
    prob = optcore.LeastSquares.random(args.n, args.d, seed=args.seed, noise=0.1)
    return prob, make_task(prob.A, prob.b, args.epochs, args.step, args.seed)


def available_baselines(impls):
    """{name: version} of the usable implementations, and {name: reason} of the skipped baselines."""
    return find_baselines(impls, {"optcore": optcore.__version__, "numpy": np.__version__})


# ---------------------------------------------------------------------------------------------------- timing


def touch(*arrays) -> float:
    """Reads every element of the arrays (brings them into the caches), as the reference reads its input."""
    return sum(float(np.add.reduce(a, axis=None)) for a in arrays)


def time_call(fn, threads: int, warm: bool = False, inputs=()):
    """One call of fn(): (wall seconds, thread CPU seconds or None, result). threads = 1 runs pinned to one CPU,
    and its CPU time is the call's (optcore's single-threaded loop runs on the calling thread). With `warm`, an
    untimed call with the same arguments on the same CPU comes right before (--warm); else the arrays `inputs`
    are read right before, on the same CPU (the reference's timed loop starts right after it read its input)."""
    if threads == 1:
        pin_to_one_cpu()
    try:
        if warm:
            fn()
        elif inputs:
            touch(*inputs)
        cpu0, start = time.thread_time(), time.perf_counter()
        out = fn()
        wall, cpu = time.perf_counter() - start, time.thread_time() - cpu0
    finally:
        unpin()
    return wall, (cpu if threads == 1 else None), out


def optcore_runner(prob, task: Task, order: str, R: int, threads: int):
    def run():
        res = optcore.run_sgd(
            prob,
            order=order,
            epochs=task.epochs,
            step_size=task.step,
            runs=R,
            x0=np.zeros(task.d),
            seed=task.seed,
            threads=threads,
            record=("gap",),
        )
        return res.x, res.gap

    return run


def in_process_runner(impl: str, prob, task: Task, order: str, R: int, threads: int):
    if impl == "optcore":
        return optcore_runner(prob, task, order, R, threads)
    fn = {"numpy": run_numpy, "torch": run_torch}[impl]
    return lambda: fn(task, order, R, threads)


def warm_up(impls, prob, task: Task, threads_list) -> None:
    """One tiny untimed call per implementation and thread count (lazy initialisation, thread pools)."""
    tiny = dataclasses.replace(task, epochs=1)
    for impl in impls:
        for threads in threads_list:
            in_process_runner(impl, prob, tiny, "random_reshuffling", 2, threads)()


def run_jax(task: Task, configs, threads: int, repeats: int):
    """Time JAX in a subprocess pinned to `threads` CPUs; return ({(order, R): result}, info)."""
    job = {"task": dataclasses.asdict(task), "configs": configs, "threads": threads, "repeats": repeats}
    with tempfile.TemporaryDirectory() as tmp:
        in_path, out_path = Path(tmp, "in.pkl"), Path(tmp, "out.pkl")
        in_path.write_bytes(pickle.dumps(job))
        script = Path(__file__).with_name("_baselines.py")
        proc = subprocess.run(
            [sys.executable, str(script), "jax-worker", str(in_path), str(out_path)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise RuntimeError(f"JAX worker failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        return pickle.loads(out_path.read_bytes())


def baseline_allowed(args, R: int) -> bool:
    """Whether NumPy/Torch/JAX run at this R (--max-baseline-runs)."""
    return args.max_baseline_runs is None or R <= args.max_baseline_runs


def native_runner(exe, data_path, task: Task, order: str, R: int):
    """A call of the reference loop: its own wall and CPU time of the loop, its mean final gap."""

    def run():
        pin_to_one_cpu()
        try:
            return _native.run_sgd(exe, data_path, problem="least_squares", order=order, runs=R, n=task.n,
                                   epochs=task.epochs, step=task.step, seed=task.seed)
        finally:
            unpin()

    return run


def run_all(args, prob, task: Task, impls, skipped, exes, tmp: Path):
    """Every measurement, as a list of Rows; appends skip reasons to `skipped`. Repeats are interleaved: for each
    (order, R), every implementation's k-th call comes before any (k+1)-th."""
    in_process = [i for i in ("optcore", "numpy", "torch") if i in impls]
    warm_up(in_process, prob, task, args.threads)
    native = [v for v in NATIVE if v in impls and v in exes]
    data_path = _native.data_file(task.A, task.b, task.H, task.x_star, tmp) if native else None
    rows = []
    for order in args.orders:
        for R in args.runs:
            runners = {}
            for impl in in_process:
                if impl != "optcore" and not baseline_allowed(args, R):
                    continue
                for threads in [1] if impl == "numpy" else args.threads:
                    runners[impl, threads] = in_process_runner(impl, prob, task, order, R, threads)
            for v in native:
                runners[v, 1] = native_runner(exes[v], data_path, task, order, R)
            walls = {key: [] for key in runners}
            cpus = {key: [] for key in runners}
            last = {}
            for _ in range(args.repeats):
                for (impl, threads), runner in runners.items():
                    if impl in NATIVE:
                        wall, cpu, gap = runner()
                        last[impl, threads] = (None, np.full((R, 1), gap))
                    else:
                        inputs = () if args.no_touch else (prob.A, prob.b) if impl == "optcore" else (task.A, task.b)
                        wall, cpu, last[impl, threads] = time_call(runner, threads, args.warm, inputs)
                    walls[impl, threads].append(wall)
                    if cpu is not None:
                        cpus[impl, threads].append(cpu)
            for (impl, threads), times in walls.items():
                x, gap = last[impl, threads]
                rows.append(Row(impl, threads, order, R, times, x, gap, cpu_times=cpus[impl, threads] or None))
                print(f"  {impl:12s} threads={threads} {order:18s} R={R:<5d} {median(times):8.4f} s", flush=True)
    big = [R for R in args.runs if not baseline_allowed(args, R)]
    baselines = [i for i in impls if i not in ("optcore", *NATIVE)]
    if big and baselines:
        skipped[", ".join(baselines)] = f"at R = {big} > --max-baseline-runs {args.max_baseline_runs}"
    if "jax" in impls:
        rows += jax_rows(args, task, skipped)
    return rows


def jax_rows(args, task: Task, skipped):
    """Rows for JAX: one worker subprocess per thread count, all (order, R) configurations in it."""
    configs = [(o, R) for o in args.orders for R in args.runs if baseline_allowed(args, R)]
    rows = []
    for threads in args.threads:
        try:
            results = run_jax(task, configs, threads, args.repeats)
        except RuntimeError as exc:
            skipped[f"jax threads={threads}"] = str(exc)
            continue
        print(f"  jax worker threads={threads}: CPUs {results['cpus']}, XLA_FLAGS={results['xla_flags']!r}")
        for order, R in configs:
            r = results[order, R]
            rows.append(Row("jax", threads, order, R, r["times"], r["x"], r["gap"]))
            print(
                f"  {'jax':8s} threads={threads} {order:18s} R={R:<5d} {median(r['times']):8.3f} s "
                f"(compile + warm-up {r['compile_s']:.1f} s, not timed)",
                flush=True,
            )
    return rows


# ---------------------------------------------------------------------------------------------------- checks


def relative_error(x, ref) -> float:
    """Largest per-run |x - ref| / |ref|."""
    scale = np.maximum(np.linalg.norm(ref, axis=1), np.finfo(float).tiny)
    return float(np.max(np.linalg.norm(x - ref, axis=1) / scale))


def check_rows(rows, gap_factor: float):
    """Fill each row's check column against optcore (threads=min); return the failure messages."""
    refs = {}
    for row in sorted((r for r in rows if r.impl == "optcore"), key=lambda r: r.threads):
        refs.setdefault((row.order, row.R), row)
    failures = []
    for row in rows:
        ref = refs.get((row.order, row.R))
        if ref is None or ref is row:
            row.check = "reference" if ref is row else "no optcore"
            continue
        label = f"{row.impl} threads={row.threads} {row.order} R={row.R}"
        if row.order == "incremental" and row.x is not None:
            err = relative_error(row.x, ref.x)
            row.check = f"x rel.err {err:.0e}"
            if not err <= INCREMENTAL_RTOL:
                failures.append(f"{label}: final x differs from optcore by {err:.2e} > {INCREMENTAL_RTOL:g} relative")
        else:
            ratio = float(np.mean(row.gap[:, -1]) / np.mean(ref.gap[:, -1]))
            row.check = f"gap x{ratio:.2f}"
            if not 1 / gap_factor <= ratio <= gap_factor:
                failures.append(f"{label}: mean final gap is {ratio:.3g} x optcore's (allowed factor {gap_factor:g})")
        if failures and failures[-1].startswith(label):
            row.check = "FAIL " + row.check
    return failures


# ---------------------------------------------------------------------------------------------------- report


def native_ratio(row: Row, ref: Row | None, task: Task) -> str:
    """row's rate over the reference's: in CPU time when both have it (1 thread, pinned), else in wall time."""
    if ref is None:
        return "-"
    mine, theirs = row.cpu_steps_per_s(task), ref.cpu_steps_per_s(task)
    if mine and theirs:
        return f"{mine / theirs:.3g} (cpu)"
    return f"{row.steps_per_s(task) / ref.steps_per_s(task):.3g} (wall)"


def table(rows, task: Task, peak) -> str:
    base = {(r.order, r.R): r for r in rows if r.impl == "optcore" and r.threads == 1}
    natives = {(r.impl, r.order, r.R): r for r in rows if r.impl in NATIVE}
    head = ("| implementation | threads | order | R | steps/s (M) | CPU-time steps/s (M) | vs optcore(1 thread) | "
            "x native no FMA | x native | % FMA peak | check |")
    lines = [head, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in sorted(rows, key=lambda r: (ORDERS.index(r.order), r.R, IMPLEMENTATIONS.index(r.impl), r.threads)):
        rate = r.steps_per_s(task)
        cpu_rate = r.cpu_steps_per_s(task)
        ref = base.get((r.order, r.R))
        ratio = f"{rate / ref.steps_per_s(task):.3g}" if ref else "-"
        best = cpu_rate if cpu_rate else rate
        pct = f"{100 * best * 4 * task.d / (peak.fma_f64 * 1e9 * r.threads):.2g}" if peak else "-"
        lines.append(
            f"| {r.impl} | {r.threads} | {r.order} | {r.R} | {rate / 1e6:.3g} | "
            f"{cpu_rate / 1e6 if cpu_rate else float('nan'):.3g} | {ratio} | "
            f"{native_ratio(r, natives.get(('native_nofma', r.order, r.R)), task)} | "
            f"{native_ratio(r, natives.get(('native', r.order, r.R)), task)} | {pct} | {r.check} |"
        )
    return "\n".join(lines)


def native_summary(rows, task: Task) -> str:
    """optcore on one pinned thread against the native reference loop, per order and R (CPU time)."""
    lines = ["| order | R | optcore (M/s, CPU) | native no FMA (M/s) | native (M/s) | optcore / no FMA | "
             "optcore / native |", "|---|---:|---:|---:|---:|---:|---:|"]
    for order in ORDERS:
        for R in sorted({r.R for r in rows if r.order == order}):
            get = {r.impl: r for r in rows if (r.order, r.R) == (order, R) and r.threads == 1}
            if "optcore" not in get:
                continue
            o = get["optcore"]
            columns = ("native_nofma", "native")  # the order of the header
            cells = [f"{get[v].cpu_steps_per_s(task) / 1e6:.3g}" if v in get else "-" for v in columns]
            ratios = [native_ratio(o, get.get(v), task) for v in columns]
            lines.append(f"| {order} | {R} | {o.cpu_steps_per_s(task) / 1e6:.3g} | {cells[0]} | {cells[1]} | "
                         f"{ratios[0]} | {ratios[1]} |")
    return "\n".join(lines)


def summary(rows, task: Task) -> str:
    """optcore (1 and 2 threads) against the fastest baseline at any thread count, per order and R."""
    lines = [
        "| order | R | optcore 1 thread (M/s) | optcore 2 threads (M/s) | fastest baseline (M/s) | "
        "optcore 1 thread / fastest | 2 threads / 1 thread |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for order in ORDERS:
        for R in sorted({r.R for r in rows if r.order == order}):
            mine = {r.threads: r.steps_per_s(task) for r in rows if (r.impl, r.order, r.R) == ("optcore", order, R)}
            others = [r for r in rows if r.impl not in ("optcore", *NATIVE) and (r.order, r.R) == (order, R)]
            if 1 not in mine:
                continue
            best = max(others, key=lambda r: r.steps_per_s(task), default=None)
            best_txt = f"{best.impl} ({best.threads}T) {best.steps_per_s(task) / 1e6:.3g}" if best else "-"
            ratio = f"{mine[1] / best.steps_per_s(task):.2f}" if best else "-"
            two = f"{mine[2] / 1e6:.3g}" if 2 in mine else "-"
            scaling = f"{mine[2] / mine[1]:.2f}" if 2 in mine else "-"
            lines.append(f"| {order} | {R} | {mine[1] / 1e6:.3g} | {two} | {best_txt} | {ratio} | {scaling} |")
    return "\n".join(lines)


def assumptions(args, task: Task, peak, versions, skipped) -> str:
    lines = [
        f"- problem: least squares, n={task.n}, d={task.d}, K={task.epochs} epochs, batch 1, step {task.step} "
        f"(constant), float64, x0=0, gap recorded at epoch ends; seed {task.seed}",
        f"- steps/s = R * n * K / median wall time of {args.repeats} interleaved call(s), order generation included;"
        f" threads = 1 rows pinned to one CPU, also timed in thread CPU time; "
        + ("each in-process call right after an untimed identical one (--warm)" if args.warm else
           "each call after the other implementations' (caches cold; --warm for a loop of calls)"
           + (", its input not read before (--no-touch)" if args.no_touch else
              ", right after reading its input arrays, as the reference's loop starts after reading its input")),
        f"- machine: {platform.processor() or platform.machine()}, {usable_cpus()} usable CPUs, "
        f"Python {platform.python_version()}",
        f"- versions: {', '.join(f'{k} {v}' for k, v in versions.items())}",
        f"- optcore loops: {optcore._core.isa_info()} (OPTCORE_ISA={os.environ.get('OPTCORE_ISA', 'auto')})",
        f"- FMA peak: {peak.describe() if peak else 'not measured'}; a step costs 2d = {2 * task.d} FMAs; "
        f"% FMA peak = row flops / (per-core f64 peak x threads)",
        f"- load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
        *(f"- {impl}: {how}" for impl, how in HOW.items() if impl in versions),
        f"- checks: incremental final x must match optcore to {INCREMENTAL_RTOL:g} relative; random orders: mean "
        f'final gap within a factor {args.gap_factor:g} of optcore\'s ("gap xF" = ratio)',
    ]
    if skipped:
        lines += [f"- skipped {name}: {why}" for name, why in skipped.items()]
    else:
        lines.append("- skipped: nothing")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    prob, task = make_problem(args)
    versions, skipped = available_baselines(args.impls)
    exes = {}
    if any(v in args.impls for v in NATIVE):
        exes, why = _native.build()
        if why:
            skipped["native"] = why
        elif task.d != _native.D:
            skipped["native"] = f"the reference loop is compiled for d = {_native.D}, not --d {task.d}"
            exes = {}
        versions.update({v: " ".join(_native.VARIANTS[v]) for v in NATIVE if v in exes and v in args.impls})
    peak = machine_peak(exes, skipped)
    impls = [i for i in args.impls if i in versions]
    print(f"timing {', '.join(impls)}: orders {args.orders}, R {args.runs}, threads {args.threads}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = run_all(args, prob, task, impls, skipped, exes, Path(tmp))
    failures = check_rows(rows, args.gap_factor)
    report = f"## Assumptions\n\n{assumptions(args, task, peak, versions, skipped)}\n\n## Results\n\n"
    if any(r.impl in NATIVE for r in rows):
        report += "### optcore (1 thread, pinned) against the native reference loop\n\n" + native_summary(rows, task)
        report += "\n\n"
    report += "### optcore against the fastest baseline\n\n" + summary(rows, task) + "\n\n### All measurements\n\n"
    report += table(rows, task, peak) + "\n"
    return finish_report(report, failures, args.markdown)


if __name__ == "__main__":
    sys.exit(main())
