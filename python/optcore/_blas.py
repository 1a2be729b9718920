"""The BLAS behind the wide-layer pass of networks: OpenBLAS from the scipy-openblas32 wheel, loaded at import.

Networks with a layer wider than 64 units go through their batches as matrix products (C++
``cpp/include/optcore/mlp_gemm.hpp``). Those products call ``cblas_sgemm``/``cblas_dgemm`` of the OpenBLAS that
the ``scipy-openblas32`` wheel ships (the build NumPy and SciPy use), found and loaded here with ctypes; the C++
core receives the two function addresses (``_core._set_gemm``). Nothing is linked at build time, so building
optcore never needs a BLAS.

Choices made here, and why:

* The library is loaded ``RTLD_LOCAL`` from its file, without importing the ``scipy_openblas32`` module (whose
  import loads it ``RTLD_GLOBAL``). SciPy bundles an OpenBLAS with the same ``scipy_`` symbol names; loaded
  globally, ours could take over SciPy's BLAS calls. NumPy's bundled OpenBLAS has other names (``64_`` suffix).
* OpenBLAS runs single-threaded: the engine already spreads runs over threads, and a run's bits must not depend on
  the thread count. The thread count of this library instance is set to 1 (and its thread pool is never started:
  ``OPENBLAS_NUM_THREADS=1`` is in the environment only while the library loads). NumPy's and SciPy's OpenBLAS
  instances are separate libraries and keep their own settings.
* A small product is checked against NumPy after loading; any failure (wheel missing, symbols renamed, wrong
  answer) leaves the portable C++ loop in place: same results to rounding, slower. ``info()`` says which and why.
* ``OPTCORE_BLAS=none`` in the environment (read at import) forces the portable loop, for tests and comparisons.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np

from . import _core

ENV_VAR = "OPTCORE_BLAS"
CHOICES = ("auto", "openblas", "none")

_state: dict[str, object] = {"backend": "fallback", "reason": "not loaded yet", "library": None}
_handle: ctypes.CDLL | None = None  # keeps the library loaded for the life of the process


def _library_file() -> Path:
    """The shared library file of the installed scipy-openblas32 wheel (found without importing it)."""
    spec = importlib.util.find_spec("scipy_openblas32")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the scipy-openblas32 package is not installed")
    lib_dir = Path(next(iter(spec.submodule_search_locations))) / "lib"
    suffix = {"win32": ".dll", "darwin": ".dylib"}.get(sys.platform, ".so")
    names = sorted(lib_dir.glob(f"*scipy_openblas*{suffix}")) if lib_dir.is_dir() else []
    if not names:
        raise ImportError(f"no scipy_openblas*{suffix} in {lib_dir}")
    return names[0]


def _open(path: Path) -> ctypes.CDLL:
    """Load the library privately (RTLD_LOCAL) with its thread pool limited to one thread."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        os.add_dll_directory(str(path.parent))
    saved = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read once, when the library initializes
    try:
        return ctypes.CDLL(str(path), mode=getattr(os, "RTLD_LOCAL", 0))
    finally:
        if saved is None:
            del os.environ["OPENBLAS_NUM_THREADS"]
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = saved


def _products_agree() -> bool:
    """Whether the registered gemm computes the four products the network pass uses, in both dtypes."""
    rng = np.random.default_rng(0)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        a, b = rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)
        c = rng.standard_normal((5, 4)).astype(dtype)
        cases = [
            (a, b, False, False, a @ b),
            (np.ascontiguousarray(a.T), b, True, False, a @ b),
            (a, np.ascontiguousarray(b.T), False, True, a @ b),
        ]
        for x, y, ta, tb, want in cases:
            got = _core._gemm(x, y, c, ta, tb, dtype(0.5), dtype(1.0))
            if not np.allclose(got, 0.5 * want + c, rtol=tol, atol=tol):
                return False
    return True


def load(choice: str | None = None) -> str:
    """Register the BLAS for the wide-layer pass; return the backend now in use, ``"openblas"`` or ``"fallback"``.

    Parameters
    ----------
    choice : {"auto", "openblas", "none"}, optional
        ``"auto"`` (default, or the ``OPTCORE_BLAS`` environment variable when set): OpenBLAS if it loads and
        checks out, else the portable loop. ``"openblas"``: the same, but raise ``RuntimeError`` if it cannot be
        used. ``"none"``: the portable loop.

    Raises
    ------
    ValueError
        If `choice` (or ``OPTCORE_BLAS``) is not one of the choices.
    RuntimeError
        If ``choice="openblas"`` and OpenBLAS cannot be used.
    """
    global _handle
    source = "argument 'choice'" if choice is not None else f"environment variable {ENV_VAR}"
    choice = (choice if choice is not None else os.environ.get(ENV_VAR, "auto")).strip().lower()
    if choice not in CHOICES:
        raise ValueError(f"{source} must be one of {', '.join(CHOICES)}; got {choice!r}")
    _core._set_gemm(0, 0)
    if choice == "none":
        _state.update(backend="fallback", reason=f"{ENV_VAR}=none or load('none')", library=None)
        return "fallback"
    try:
        path = _library_file()
        handle = _open(path)
        handle.scipy_openblas_set_num_threads(ctypes.c_int(1))
        addresses = [ctypes.cast(getattr(handle, f"scipy_cblas_{t}gemm"), ctypes.c_void_p).value for t in "sd"]
        _core._set_gemm(*addresses)
        if not _products_agree():
            _core._set_gemm(0, 0)
            raise RuntimeError(f"{path.name} gives wrong matrix products")
    except (ImportError, OSError, AttributeError, RuntimeError) as err:
        _core._set_gemm(0, 0)
        _state.update(backend="fallback", reason=f"OpenBLAS not usable: {err}", library=None)
        if choice == "openblas":
            raise RuntimeError(str(_state["reason"])) from err
        return "fallback"
    _handle = handle
    _state.update(backend="openblas", reason="", library=str(path))
    return "openblas"


def info() -> dict[str, object]:
    """Which gemm the wide-layer pass uses: ``{"backend", "reason" (why the fallback), "library" (path)}``."""
    return dict(_state)


load()
