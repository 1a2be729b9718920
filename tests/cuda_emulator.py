"""A host emulation of the small part of CuPy that optcore's CUDA backend uses, for machines without a GPU.

``FakeCuPy`` stands in for the ``cupy`` module: device arrays are NumPy arrays of a subclass (``DeviceArray``), and
``RawModule`` compiles the kernel source with the host C++ compiler -- the same ``.cu`` text and the same shared
headers, with ``__global__``/``__device__`` defined away and ``blockIdx``/``threadIdx`` set before each emulated
thread runs. The kernels then execute one thread after another on the CPU, called through ctypes with the argument
types CuPy would pack (NumPy scalars by their dtype, arrays as pointers).

What this checks without a GPU: the kernels' logic (the engine loop, the order generation, the network passes) and
the Python wrappers' argument lists, against the CPU core. ``__CUDACC__`` is defined, so the shared headers take
their device code paths (the scalar dot product, the scalar Philox), as under nvcc/NVRTC. What it cannot check:
NVRTC's code generation, CUDA's device math library (exp, log1p, tanh differ from glibc in the last bit), memory
behaviour and speed.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import types
from pathlib import Path

import numpy as np

CXX = shutil.which("g++") or shutil.which("c++")

PRELUDE = r"""
#include <cmath>
#include <cstdint>
struct optcore_emu_dim3 { unsigned x = 0, y = 0, z = 0; };
optcore_emu_dim3 blockIdx, threadIdx, blockDim;
extern "C" void optcore_emu_set(unsigned block, unsigned thread, unsigned block_dim) {
  blockIdx.x = block; threadIdx.x = thread; blockDim.x = block_dim;
}
#define __global__
#define __device__
#define __host__
// Take the device code paths of the shared headers (no vector extensions, no SIMD Philox), as nvcc/NVRTC do.
#define __CUDACC__ 1
using std::exp; using std::isfinite; using std::log; using std::log1p; using std::sqrt; using std::tanh;
"""


class DeviceArray(np.ndarray):
    """A "device" array: a NumPy array of its own type, so the backend logic sees it as a CuPy array."""

    def get(self):
        return np.array(self, copy=True).view(np.ndarray)


def _dev(a) -> DeviceArray:
    return np.asarray(a).view(DeviceArray)


class _Kernel:
    def __init__(self, lib, name):
        self._fn = getattr(lib, name)
        self._set = lib.optcore_emu_set

    @staticmethod
    def _arg(a):
        if isinstance(a, np.ndarray):
            return ctypes.c_void_p(a.ctypes.data)
        converters = {
            np.dtype(np.int64): ctypes.c_int64,
            np.dtype(np.int32): ctypes.c_int32,
            np.dtype(np.uint32): ctypes.c_uint32,
            np.dtype(np.uint64): ctypes.c_void_p,  # optcore passes uint64 only as a null pointer
            np.dtype(np.float64): ctypes.c_double,
            np.dtype(np.float32): ctypes.c_float,
        }
        if isinstance(a, np.generic) and a.dtype in converters:
            conv = converters[a.dtype]
            return conv(None if conv is ctypes.c_void_p and int(a) == 0 else a.item())
        raise TypeError(f"CuPy would not pack a kernel argument of type {type(a).__name__}")

    def __call__(self, grid, block, args):
        cargs = [self._arg(a) for a in args]
        for b in range(grid[0]):
            for t in range(block[0]):
                self._set(b, t, block[0])
                self._fn(*cargs)


class _RawModule:
    _cache: dict[str, ctypes.CDLL] = {}
    _dir = Path(tempfile.gettempdir()) / f"optcore-cuda-emulator-{os.getuid()}"

    def __init__(self, code: str, options=()):
        flags = [o for o in options if o.startswith(("-I", "-D")) and "nvrtc_std" not in o]
        key = hashlib.sha256((code + "\0".join(flags)).encode()).hexdigest()[:24]
        lib = self._cache.get(key)
        if lib is None:
            self._dir.mkdir(exist_ok=True)
            so = self._dir / f"k{key}.so"
            if not so.exists():
                src = self._dir / f"k{key}.cpp"
                src.write_text(PRELUDE + code)
                tmp = so.with_suffix(f".{os.getpid()}.tmp")
                cmd = [CXX, "-std=c++17", "-O1", "-shared", "-fPIC", *flags, str(src), "-o", str(tmp)]
                subprocess.run(cmd, check=True, capture_output=True, text=True)
                tmp.replace(so)
            lib = ctypes.CDLL(str(so))
            self._cache[key] = lib
        self._lib = lib

    def compile(self):
        return None

    def get_function(self, name):
        return _Kernel(self._lib, name)


def make_fake_cupy() -> types.ModuleType:
    """A module with the names optcore's CUDA backend takes from cupy, backed by NumPy and the host compiler."""
    cp = types.ModuleType("cupy")
    cp.ndarray = DeviceArray
    cp.RawModule = _RawModule
    for name in ("uint8", "uint32", "uint64", "int64", "float32", "float64"):
        setattr(cp, name, getattr(np, name))

    def asarray(a, dtype=None):
        return _dev(np.ascontiguousarray(np.asarray(a), dtype=dtype))

    cp.asarray = asarray
    cp.ascontiguousarray = lambda a: _dev(np.ascontiguousarray(a))
    def empty(shape, dtype=np.float64):  # garbage, like device memory: kernels must not read before writing
        return _dev(np.full(shape, 0xCD if np.dtype(dtype).kind in "ui" else np.nan, dtype=dtype))

    cp.empty = empty
    cp.zeros = lambda shape, dtype=np.float64: _dev(np.zeros(shape, dtype=dtype))
    cp.full = lambda shape, value, dtype=None: _dev(np.full(shape, value, dtype=dtype))
    cp.eye = lambda n, dtype=np.float64: _dev(np.eye(n, dtype=dtype))
    cp.repeat = lambda a, r, axis=None: _dev(np.repeat(np.asarray(a), r, axis=axis))
    cp.tile = lambda a, reps: _dev(np.tile(np.asarray(a), reps))
    cp.asnumpy = lambda a: np.array(a).view(np.ndarray)
    stream = types.SimpleNamespace(synchronize=lambda: None)
    cp.cuda = types.SimpleNamespace(
        Device=lambda: types.SimpleNamespace(id=0),
        get_current_stream=lambda: stream,
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
    )
    return cp
