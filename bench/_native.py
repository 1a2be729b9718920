"""The native reference loop (bench/native_ref.cpp) and the measured FMA peak, for the benchmark scripts.

The C++ program is compiled here with the system C++ compiler ($CXX, else g++) into a cache folder, twice:
``-O3 -march=native`` ("native") and ``-O3 -march=native -mno-fma`` ("native, no FMA", the reference the speed
targets use, since optcore's own copies do not fuse multiply-adds). It is not part of the optcore package. When
no compiler works, the callers skip the native columns and say why.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("native_ref.cpp")
D = 20  # the dimension native_ref.cpp is compiled for
VARIANTS = {"native": ["-O3", "-march=native"], "native_nofma": ["-O3", "-march=native", "-mno-fma"]}


@dataclass
class Peak:
    """Measured per-core rates in GFLOP/s (an FMA counts 2 flops) and the vector width used."""

    fma_f64: float
    fma_f32: float
    muladd_f64: float
    isa: str

    def describe(self) -> str:
        return (f"measured on one core with {self.isa} vectors: FMA peak {self.fma_f64:.1f} GFLOP/s f64, "
                f"{self.fma_f32:.1f} f32; separate multiply + add {self.muladd_f64:.1f} f64 "
                f"({100 * self.muladd_f64 / self.fma_f64:.0f}% of the FMA peak)")


def build(cache: Path | None = None) -> tuple[dict[str, Path], str]:
    """Compile every variant (once per source and flags); ({variant: executable}, "") or ({}, why not)."""
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        return {}, "no C++ compiler (set CXX or install g++)"
    cache = cache or Path(tempfile.gettempdir()) / "optcore-bench-native"
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, flags in VARIANTS.items():
        key = hashlib.sha256(SOURCE.read_bytes() + " ".join([cxx, *flags]).encode()).hexdigest()[:16]
        exe = cache / f"native_ref_{name}_{key}"
        if not exe.exists():
            cmd = [cxx, *flags, "-std=c++17", "-o", str(exe), str(SOURCE)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                return {}, f"{' '.join(cmd)} failed: {proc.stderr[-500:]}"
        out[name] = exe
    return out, ""


def measure_peak(exe: Path, seconds: float = 1.0) -> Peak:
    """The FMA peak of one core, measured by the reference program (in thread CPU time, pinned by the caller)."""
    text = subprocess.run([str(exe), "peak", str(seconds)], capture_output=True, text=True, check=True).stdout
    rates, isa = {}, ""
    for line in text.splitlines():
        name, gflops, isa, _chains = line.split()
        rates[name] = float(gflops)
    return Peak(rates["fma_f64"], rates["fma_f32"], rates["muladd_f64"], isa)


def data_file(A, b, hessian, x_star, folder: Path) -> Path:
    """The problem's data as the text native_ref.cpp reads on stdin (float64, shortest round-trip repr)."""
    A = np.asarray(A, dtype=np.float64)
    if A.shape[1] != D:
        raise ValueError(f"the native reference loop is compiled for d = {D}, got d = {A.shape[1]}")
    path = folder / "native_ref_data.txt"
    values = np.concatenate([A.ravel(), np.asarray(b, float), np.asarray(hessian, float).ravel(),
                             np.asarray(x_star, float)])
    path.write_text("\n".join(repr(float(v)) for v in values) + "\n")
    return path


def run_sgd(exe: Path, data: Path, *, problem: str, order: str, runs: int, n: int, epochs: int, step: float,
            seed: int) -> tuple[float, float, float]:
    """One timed call of the reference loop: (wall seconds, thread CPU seconds, mean final record)."""
    with open(data) as stdin:
        text = subprocess.run(
            [str(exe), "sgd", problem, order, str(runs), str(n), str(epochs), repr(step), str(seed)],
            stdin=stdin, capture_output=True, text=True, check=True,
        ).stdout
    wall, cpu, record = (float(v) for v in text.split())
    return wall, cpu, record
