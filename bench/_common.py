"""Pieces the benchmark scripts share: which baselines are importable, pinning to CPUs, writing the report."""

from __future__ import annotations

import importlib.metadata
import os
import statistics
import time


def available_baselines(impls, found: dict) -> tuple[dict, dict]:
    """{name: version} of the usable implementations among ``impls`` (``found`` holds those always present),
    and {name: reason} of the skipped baselines (torch, jax)."""
    found, skipped = dict(found), {}
    for name in ("torch", "jax"):
        if name not in impls:
            continue
        try:
            if name == "torch":
                import torch

                found[name] = torch.__version__
            else:  # not imported here: the JAX worker must set XLA_FLAGS before importing it
                version = importlib.metadata.version
                found[name] = f"{version('jax')} (jaxlib {version('jaxlib')})"
        except Exception as exc:  # ImportError, PackageNotFoundError, broken installs
            skipped[name] = f"not importable ({type(exc).__name__}: {exc})"
    return {k: v for k, v in found.items() if k in impls}, skipped


def pin_jax_worker(threads: int):
    """In a JAX worker process, before importing jax: use `threads` CPUs and XLA's single-thread flags for 1.

    Returns the CPUs used (or a note that the platform cannot pin).
    """
    cpus = "not pinned (no sched_setaffinity)"
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[:threads]
        os.sched_setaffinity(0, cpus)
    if threads == 1:
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    return cpus


def finish_report(report: str, failures, markdown) -> int:
    """Append the check failures, print the report, write it to ``markdown`` (a Path or None); the exit status."""
    if failures:
        report += "\n## Check failures\n\n" + "\n".join(f"- {f}" for f in failures) + "\n"
    print("\n" + report)
    if markdown:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(report)
    return 1 if failures else 0


def pin_to_one_cpu() -> str:
    """Pin this process to one CPU (the last usable one: CPU 0 takes most interrupts); returns which, or a note."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {cpu})
    return str(cpu)


_ALL_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


def unpin() -> None:
    """Undo pin_to_one_cpu(): every CPU this process could use when it started."""
    if _ALL_CPUS is not None:
        os.sched_setaffinity(0, _ALL_CPUS)


def median_time(fn, repeats: int):
    """(median wall seconds over `repeats` calls of fn(), the last call's result)."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out
