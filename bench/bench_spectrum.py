"""Hessian spectra side by side: optcore MLP (C++ products), a PyTorch model through optcore.spectrum, PyHessian.

Same network and data for all: a ReLU MLP [64, 32, 32, 10] with softmax cross-entropy (mean) on n digits. For each
implementation: the time and Hessian-vector products (HVPs) to the top eigenvalue (relative tolerance 1e-6), to
a trace whose 95% interval is within 1% (Hutch++ and Hutchinson), and to an SLQ density (10 vectors x 80 steps);
errors against the exact values from the dense Hessian. PyHessian is run only when importable (it is not a
dependency; it needs ``pip install --no-deps pyhessian``); otherwise it is reported as skipped. PyHessian has
its own stopping rules (power iteration until the eigenvalue moves by under ``tol``; Hutchinson until the running
mean moves by under 0.1%, at most 100 samples): it is run with them, on the same float64 model, and its HVPs are
counted by wrapping its ``hessian_vector_product``; a task of it that raises is reported as the failure it is.

``--networks R`` adds optcore's many-networks path: the same tasks for R networks (seeds 0..R-1) at once
(``from_mlp`` with R parameter rows, one C++ call per round) against the R networks one by one.

    python bench/bench_spectrum.py                 # n = 500, 3 repeats
    python bench/bench_spectrum.py --quick         # smoke test
"""

from __future__ import annotations

import argparse
import sys
import os
import statistics
import time
from pathlib import Path

import numpy as np

from optcore import MLP, spectrum
from optcore.spectrum.studies import digits_subset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_time  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--networks", type=int, default=0, help="also time R networks at once against one by one")
    ap.add_argument("--per-hvp", action="store_true", help="only the cost of one product, side by side")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.n, args.width, args.repeats = 100, 8, 1
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; medians of {args.repeats} repeats")
    X, y = digits_subset(args.n, 0)
    mlp = MLP([64, args.width, args.width, 10], activation="relu", loss="softmax_ce")
    theta = mlp.init(1, seed=0)[0]
    if args.per_hvp:
        return per_hvp(mlp, theta, X, y, max(args.repeats, 3))
    t0 = time.perf_counter()
    H = mlp.hessian(theta, X, y)
    t_dense = time.perf_counter() - t0
    w = np.linalg.eigvalsh(H)
    exact_top, exact_trace = w[-1], np.trace(H)
    print(f"net [64, {args.width}, {args.width}, 10] relu softmax_ce, n = {args.n}, P = {mlp.n_params}")
    print(f"exact (dense Hessian in {t_dense:.2f} s + eigh): lambda_max = {exact_top:.6g}, trace = {exact_trace:.6g}")

    ops = {"optcore MLP": lambda: spectrum.from_mlp(mlp, theta, X, y)}
    try:
        import torch

        torch.set_num_threads(1)  # tiny products: intra-op threads only add synchronization on this shared VM
        model, loss_fn = spectrum.mlp_to_torch(mlp, theta)
        data = (torch.tensor(X), torch.tensor(y))
        ops[f"torch {torch.__version__} via optcore.spectrum"] = lambda: spectrum.from_torch(model, loss_fn, data)
    except ImportError as exc:
        print(f"torch: skipped ({exc})")
    rows = []
    for name, make in ops.items():
        op = make()
        tasks = {
            "top eigenvalue": (lambda: spectrum.eigenpairs(op, 1, vectors=False, tol=1e-6)),
            "trace 1% (Hutch++)": (lambda: spectrum.trace(op, rtol=0.01, max_hvp=20000)),
            "trace 1% (Hutchinson)": (lambda: spectrum.trace(op, method="hutchinson", rtol=0.01, max_hvp=20000)),
            "density (10 x 80)": (lambda: spectrum.density(op, n_vectors=10, steps=80)),
        }
        for task, fn in tasks.items():
            sec, out = median_time(fn, args.repeats)
            if task.startswith("top"):
                err, hvp = abs(out.values[0] - exact_top) / abs(exact_top), out.n_hvp
            elif task.startswith("trace"):
                err, hvp = abs(out.value - exact_trace) / abs(exact_trace), out.n_hvp
            else:
                err, hvp = abs(out.moment(1)[0] * mlp.n_params - exact_trace) / abs(exact_trace), out.n_hvp
            rows.append((name, task, sec, hvp, err))
            print(f"{name:34s} {task:24s} {sec:8.3f} s {hvp:6d} HVPs  rel. error {err:.2e}", flush=True)
    rows += pyhessian_rows(mlp, theta, X, y, exact_top, exact_trace, args.repeats)
    if args.networks:
        rows += many_networks_rows(mlp, X, y, args.networks, args.repeats)
    print("\n| implementation | task | time (s) | HVPs | relative error |\n|---|---|---:|---:|---:|")
    for name, task, sec, hvp, err in rows:
        shown = err if isinstance(err, str) else f"{err:.1e}"
        print(f"| {name} | {task} | {sec:.3g} | {hvp} | {shown} |")


def pyhessian_rows(mlp, theta, X, y, exact_top, exact_trace, repeats):
    """PyHessian 0.1 on the same float64 network, with its own stopping rules; HVPs counted by a wrapper."""
    try:
        import importlib

        import pyhessian
        import torch

        ph = importlib.import_module("pyhessian.hessian")  # the module (the package's `hessian` is the class)
    except ImportError as exc:
        print(f"pyhessian: skipped ({exc}; it is a bench baseline only: pip install --no-deps pyhessian)")
        return []
    counter = {"hvp": 0}
    original = ph.hessian_vector_product

    def counted(gradsH, params, v):
        counter["hvp"] += 1
        return original(gradsH, params, v)

    ph.hessian_vector_product = counted
    torch.set_default_dtype(torch.float64)  # its random vectors follow the default dtype: match the float64 model
    model, loss_fn = spectrum.mlp_to_torch(mlp, theta)
    data = (torch.tensor(X), torch.tensor(y).long())
    name = f"PyHessian {getattr(pyhessian, '__version__', '0.1')} (torch {torch.__version__})"
    rows = []
    tasks = {
        "top eigenvalue (power iteration, tol 1e-6)": lambda H: H.eigenvalues(maxIter=1000, tol=1e-6, top_n=1),
        "trace (its rule: mean moves < 0.1%)": lambda H: H.trace(),
        "density (10 x 80)": lambda H: H.density(iter=80, n_v=10),
    }
    for task, fn in tasks.items():
        times, hvps, out, failure = [], [], None, None
        for _ in range(repeats):
            H = pyhessian.hessian(model, lambda o, t: loss_fn(o, t), data=data, cuda=False)
            counter["hvp"] = 0
            t0 = time.perf_counter()
            try:
                out = fn(H)
            except Exception as exc:  # a crash of the baseline is its result, not the bench's
                failure = f"failed: {type(exc).__name__}: {exc}"
            times.append(time.perf_counter() - t0)
            hvps.append(counter["hvp"])
            if failure:
                break
        sec, hvp = statistics.median(times), int(statistics.median(hvps))
        if failure:
            err = failure.splitlines()[0][:120]
        elif task.startswith("top"):
            err = abs(out[0][0] - exact_top) / abs(exact_top)
        else:
            err = abs(float(np.mean(out)) * 1.0 - exact_trace) / abs(exact_trace)
        rows.append((name, task, sec, hvp, err))
        shown = err if isinstance(err, str) else f"rel. error {err:.2e}"
        print(f"{name:34s} {task:24s} {sec:8.3f} s {hvp:6d} HVPs  {shown}", flush=True)
    torch.set_default_dtype(torch.float32)
    ph.hessian_vector_product = original
    return rows


def per_hvp(mlp, theta, X, y, rounds, N=30):
    """ms per product of each backend, in interleaved rounds of N (one vector per call, and a block of N)."""
    import importlib

    import pyhessian
    import torch

    torch.set_num_threads(1)
    op = spectrum.from_mlp(mlp, theta, X, y)
    model, loss_fn = spectrum.mlp_to_torch(mlp, theta)
    top = spectrum.from_torch(model, loss_fn, (torch.tensor(X), torch.tensor(y)))
    torch.set_default_dtype(torch.float64)
    model2, loss2 = spectrum.mlp_to_torch(mlp, theta)
    H = pyhessian.hessian(model2, lambda o, t: loss2(o, t), data=(torch.tensor(X), torch.tensor(y).long()), cuda=False)
    ph = importlib.import_module("pyhessian.hessian")
    rng = np.random.default_rng(0)
    v, V = rng.standard_normal(mlp.n_params), rng.standard_normal((mlp.n_params, N))
    vt = [torch.randn(p.size()) for p in H.params]
    runs = {
        "optcore MLP (C++), one vector per call": lambda: [op.matvec(v) for _ in range(N)],
        f"optcore MLP (C++), a block of {N} in one call": lambda: op.matmat(V),
        "torch via optcore.spectrum, one vector": lambda: [top.matvec(v) for _ in range(N)],
        f"torch via optcore.spectrum, a block of {N} (vmap)": lambda: top.matmat(V),
        "PyHessian (autograd.grad, retained graph)": lambda: [ph.hessian_vector_product(H.gradsH, H.params, vt)
                                                              for _ in range(N)],
    }
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) / N)
    print(f"ms per HVP, median of {rounds} interleaved rounds of {N}:")
    for name, t in times.items():
        print(f"| {name} | {1e3 * statistics.median(t):.2f} |")


def many_networks_rows(mlp, X, y, R, repeats):
    """R networks (seeds 0..R-1): one HessianBatch against R single operators, same tasks, same results."""
    params = np.concatenate([mlp.init(1, seed=s) for s in range(R)])
    batch = spectrum.from_mlp(mlp, params, X, y)
    singles = [spectrum.from_mlp(mlp, p, X, y) for p in params]
    exact = np.trace(batch.dense(), axis1=1, axis2=2)
    tasks = {
        "top eigenvalue": (lambda op: spectrum.eigenpairs(op, 1, vectors=False, tol=1e-6), lambda o: 0.0),
        "trace 1% (Hutch++)": (lambda op: spectrum.trace(op, rtol=0.01, max_hvp=20000), lambda o: o.value),
        "density (10 x 80)": (
            lambda op: spectrum.density(op, n_vectors=10, steps=80),
            lambda o: o.moment(1)[0] * o.dim,
        ),
    }
    rows = []
    for task, (fn, traced) in tasks.items():
        sec_b, together = median_time(lambda: fn(batch), repeats)
        sec_s, alone = median_time(lambda: [fn(op) for op in singles], repeats)
        hvp = sum(o.n_hvp for o in together)
        if task.startswith("top"):
            err = max(abs(a.values[0] - b.values[0]) / abs(a.values[0]) for a, b in zip(alone, together, strict=True))
            label = "max rel. difference from one by one (eigsh)"
        else:
            err = max(abs(traced(o) - e) / abs(e) for o, e in zip(together, exact, strict=True))
            label = "max rel. error of the trace"
        for name, sec, n in ((f"optcore MLP, {R} networks at once", sec_b, hvp),
                             (f"optcore MLP, {R} networks one by one", sec_s, sum(o.n_hvp for o in alone))):
            rows.append((name, task, sec, n, err))
            print(f"{name:34s} {task:24s} {sec:8.3f} s {n:6d} HVPs  {label} {err:.2e}", flush=True)
    return rows


if __name__ == "__main__":
    main()
