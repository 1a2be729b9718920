"""GPU benchmark: optcore's CUDA backend side by side with PyTorch and JAX on the same GPU.

Workloads
---------
* ``sgd``: R independent random-reshuffling SGD runs (R = 10^4 and 10^5) on one least-squares problem
  (n = 100 components, d = 20), K = 10 epochs, a fresh permutation per run and epoch, float32 and float64; the
  objective gap is recorded at every epoch end. PyTorch: the runs as one (R, d) tensor, permutations by argsort of
  uniforms, one gather-and-update per step. JAX: jit(vmap(scan)) with jax.random.permutation per run and epoch.
* ``nets``: many small networks at once (R = 4096 ReLU networks 10-32-32-1, n = 256 examples, squared loss): the
  full-batch loss and gradient, and a Hessian-vector product, of all R networks. PyTorch: torch.func.vmap over
  functional networks; JAX: jit(vmap(grad)) and jvp-of-grad HVPs.

All timings are medians of ``--repeats`` calls after one warm-up call (which includes compilation for optcore's
NVRTC kernels, JAX's XLA and PyTorch's kernels), with the device synchronized before the clock stops.

Run ``python bench/bench_gpu.py`` on a machine with a CUDA GPU and CuPy (``pip install optcore[cuda12]``). Without a
GPU it exits with status 2 and says why. ``--markdown`` prints the result table for bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import optcore


def median_time(fn, sync, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after one warm-up, synchronizing the device each time."""
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- the SGD workload ------------------------------------------------------------------------------------------------
def sgd_problem(dtype, n: int = 100, d: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d)) / np.sqrt(d)
    b = A @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    return optcore.LeastSquares(A, b, dtype=dtype)


def sgd_optcore(problem, runs: int, epochs: int, step: float):
    import cupy as cp

    x0 = cp.zeros((runs, problem.dim), dtype=problem.dtype)

    def run():
        return optcore.run_sgd(problem, order="rr", epochs=epochs, step_size=step, x0=x0, seed=1, record=("gap",))

    return run, lambda: cp.cuda.get_current_stream().synchronize(), lambda out: float(out.gap[:, -1].mean())


def sgd_torch(problem, runs: int, epochs: int, step: float):
    import torch

    dev = torch.device("cuda")
    tdt = torch.float64 if problem.dtype == np.float64 else torch.float32
    A = torch.as_tensor(np.asarray(problem.A), dtype=tdt, device=dev)
    b = torch.as_tensor(np.asarray(problem.b), dtype=tdt, device=dev)
    f_star = float(problem.f_star)
    n, d = A.shape
    gen = torch.Generator(device=dev)

    def gap(x):
        r = x @ A.T - b
        return 0.5 * (r * r).mean(dim=1) - f_star

    def run():
        gen.manual_seed(1)
        x = torch.zeros((runs, d), dtype=tdt, device=dev)
        gaps = [gap(x)]
        for _ in range(epochs):
            perm = torch.argsort(torch.rand((runs, n), generator=gen, device=dev), dim=1)
            for s in range(n):
                i = perm[:, s]
                a = A[i]
                r = (a * x).sum(dim=1) - b[i]
                x = x - step * r[:, None] * a
            gaps.append(gap(x))
        return torch.stack(gaps, dim=1)

    return run, torch.cuda.synchronize, lambda out: float(out[:, -1].mean())


def sgd_jax(problem, runs: int, epochs: int, step: float):
    import jax
    import jax.numpy as jnp

    if problem.dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    A = jnp.asarray(np.asarray(problem.A))
    b = jnp.asarray(np.asarray(problem.b))
    f_star = float(problem.f_star)
    n, d = A.shape

    def gap(x):
        r = A @ x - b
        return 0.5 * jnp.mean(r * r) - f_star

    def one_run(key):
        def epoch(x, key_k):
            perm = jax.random.permutation(key_k, n)

            def step_fn(x, i):
                a = A[i]
                return x - step * (a @ x - b[i]) * a, None

            x, _ = jax.lax.scan(step_fn, x, perm)
            return x, gap(x)

        x0 = jnp.zeros(d, dtype=A.dtype)
        _, gaps = jax.lax.scan(epoch, x0, jax.random.split(key, epochs))
        return gaps

    batched = jax.jit(jax.vmap(one_run))
    keys = jax.random.split(jax.random.PRNGKey(1), runs)
    out = {}

    def run():
        out["g"] = batched(keys)
        return out["g"]

    return run, lambda: out["g"].block_until_ready() if "g" in out else None, lambda g: float(g[:, -1].mean())


# --- the many-networks workload ------------------------------------------------------------------------------------
def nets_case(dtype, runs: int = 4096, n: int = 256, widths=(10, 32, 32, 1)):
    mlp = optcore.MLP(list(widths), activation="relu", loss="squared", dtype=dtype)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, widths[0])).astype(dtype)
    Y = rng.standard_normal((n, widths[-1])).astype(dtype)
    params = mlp.init(runs, seed=3)
    V = rng.standard_normal(params.shape).astype(dtype)
    return mlp, X, Y, params, V


def nets_optcore(mlp, X, Y, params, V, what: str):
    import cupy as cp

    dX, dY, dP, dV = (cp.asarray(a) for a in (X, Y, params, V))
    if what == "grad":
        fn = lambda: mlp.loss_and_grad(dP, dX, dY)  # noqa: E731
    else:
        fn = lambda: mlp.hvp(dP, dX, dY, dV)  # noqa: E731
    return fn, lambda: cp.cuda.get_current_stream().synchronize()


def _torch_net(torch, widths, flat, dtype):
    """Per-layer (W, b) tensors (R, out, in) and (R, out) from the flat optcore layout."""
    layers, off = [], 0
    for i, o in zip(widths[:-1], widths[1:], strict=True):
        W = flat[:, off : off + o * i].reshape(-1, o, i)
        off += o * i
        b = flat[:, off : off + o]
        off += o
        layers.append((W, b))
    return layers


def nets_torch(mlp, X, Y, params, V, what: str):
    import torch
    from torch.func import grad, jvp, vmap

    dev = torch.device("cuda")
    tdt = torch.float64 if mlp.dtype == np.float64 else torch.float32
    widths = [int(w) for w in mlp.widths]
    tX, tY = (torch.as_tensor(a, dtype=tdt, device=dev) for a in (X, Y))
    tP, tV = (torch.as_tensor(a, dtype=tdt, device=dev) for a in (params, V))

    def loss(theta):
        h, off = tX, 0
        for li, (i, o) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            W = theta[off : off + o * i].reshape(o, i)
            off += o * i
            b = theta[off : off + o]
            off += o
            h = h @ W.T + b
            if li < len(widths) - 2:
                h = torch.relu(h)
        return 0.5 * ((h - tY) ** 2).sum(dim=1).mean()

    if what == "grad":
        f = vmap(lambda th: (loss(th), grad(loss)(th)))
        fn = lambda: f(tP)  # noqa: E731
    else:
        f = vmap(lambda th, v: jvp(grad(loss), (th,), (v,))[1])
        fn = lambda: f(tP, tV)  # noqa: E731
    return fn, torch.cuda.synchronize


def nets_jax(mlp, X, Y, params, V, what: str):
    import jax
    import jax.numpy as jnp

    if mlp.dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    widths = [int(w) for w in mlp.widths]
    jX, jY, jP, jV = (jnp.asarray(a) for a in (X, Y, params, V))

    def loss(theta):
        h, off = jX, 0
        for li, (i, o) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            W = theta[off : off + o * i].reshape(o, i)
            off += o * i
            b = theta[off : off + o]
            off += o
            h = h @ W.T + b
            if li < len(widths) - 2:
                h = jax.nn.relu(h)
        return 0.5 * jnp.mean(jnp.sum((h - jY) ** 2, axis=1))

    if what == "grad":
        f = jax.jit(jax.vmap(jax.value_and_grad(loss)))
        args = (jP,)
    else:
        f = jax.jit(jax.vmap(lambda th, v: jax.jvp(jax.grad(loss), (th,), (v,))[1]))
        args = (jP, jV)
    out = {}

    def fn():
        out["r"] = f(*args)
        return out["r"]

    return fn, lambda: jax.block_until_ready(out.get("r"))


# --- the driver ------------------------------------------------------------------------------------------------------
def baselines_present() -> dict[str, str]:
    """{name: why not} for the baselines that cannot run on this GPU (missing, or without CUDA support)."""
    missing = {}
    try:
        import torch

        if not torch.cuda.is_available():
            missing["torch"] = f"PyTorch {torch.__version__} sees no CUDA device"
    except ImportError as exc:
        missing["torch"] = f"not importable ({exc})"
    try:
        import jax

        if not any(d.platform == "gpu" for d in jax.devices()):
            missing["jax"] = f"JAX {jax.__version__} has no GPU backend (install jax[cuda12])"
    except Exception as exc:  # ImportError, or RuntimeError from a broken backend
        missing["jax"] = f"not usable ({type(exc).__name__}: {exc})"
    return missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[10_000, 100_000], help="R of the SGD workload")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--nets", type=int, default=4096, help="R of the many-networks workload")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    args = parser.parse_args(argv)

    if not optcore.gpu_available():
        print(f"bench_gpu.py needs a CUDA GPU and CuPy: {optcore.gpu_unavailable_reason()}", file=sys.stderr)
        print("No GPU numbers were measured.", file=sys.stderr)
        return 2
    import cupy as cp

    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    print(f"device: {props['name'].decode()}, CuPy {cp.__version__}, optcore {optcore.__version__}")
    missing = baselines_present()
    for name, why in missing.items():
        print(f"skipping {name}: {why}")

    rows = []
    for dtype_name in args.dtypes:
        dtype = np.dtype(dtype_name)
        problem = sgd_problem(dtype)
        step = 0.05
        for R in args.runs:
            impls = {"optcore": sgd_optcore, "torch": sgd_torch, "jax": sgd_jax}
            times, gaps = {}, {}
            for name, make in impls.items():
                if name in missing:
                    continue
                run, sync, final_gap = make(problem, R, args.epochs, step)
                out = {}

                def call(run=run, out=out):
                    out["v"] = run()

                times[name] = median_time(call, sync, args.repeats)
                gaps[name] = final_gap(out["v"])
            rows.append((f"sgd rr LS n=100 d=20 K={args.epochs} R={R}", dtype_name, times, gaps))
        mlp, X, Y, params, V = nets_case(dtype, runs=args.nets)
        for what in ("grad", "hvp"):
            times = {}
            for name, make in {"optcore": nets_optcore, "torch": nets_torch, "jax": nets_jax}.items():
                if name in missing:
                    continue
                fn, sync = make(mlp, X, Y, params, V, what)
                times[name] = median_time(fn, sync, args.repeats)
            rows.append((f"nets 10-32-32-1 n=256 R={args.nets} {what}", dtype_name, times, {}))

    header = "| workload | dtype | optcore (s) | PyTorch (s) | JAX (s) | torch/optcore | jax/optcore | mean final gap |"
    print(header if args.markdown else header.replace("|", " "))
    if args.markdown:
        print("|" + "---|" * 8)
    for label, dtype_name, times, gaps in rows:
        o = times.get("optcore")

        def cell(name, times=times):
            return f"{times[name]:.4f}" if name in times else "-"

        def ratio(name, times=times, o=o):
            return f"{times[name] / o:.1f}x" if name in times and o else "-"

        gap_cell = ", ".join(f"{k} {v:.3g}" for k, v in gaps.items()) or "-"
        line = (f"| {label} | {dtype_name} | {cell('optcore')} | {cell('torch')} | {cell('jax')} | "
                f"{ratio('torch')} | {ratio('jax')} | {gap_cell} |")
        print(line if args.markdown else line.replace("|", " "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
