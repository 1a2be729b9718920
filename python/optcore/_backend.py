"""Which backend computes a call: the CPU core (NumPy arrays) or the CUDA kernels (CuPy arrays).

This is the only module that imports CuPy, and only on demand, inside ``try``: optcore installs, imports and runs
its whole CPU API without CuPy, a CUDA driver or a GPU. Everything else asks here.

Rules (DESIGN.md section 5, STYLE.md sections 8-9):

* With ``backend=None`` the backend follows the array arguments: CuPy arrays in -> the CUDA backend, CuPy arrays
  out; NumPy arrays (or lists, scalars, nothing) -> the CPU backend, NumPy out. Mixing CuPy and NumPy arrays in one
  call raises ``TypeError``: optcore never copies between host and device behind the caller's back.
* ``backend="cpu"`` or ``backend="cuda"`` chooses explicitly. ``"cuda"`` without a usable GPU raises
  ``RuntimeError`` saying why (:func:`gpu_unavailable_reason`); ``"cpu"`` with CuPy inputs raises ``TypeError``.
* :func:`gpu_available` is detected once and cached: CuPy importable, NVRTC loadable, a CUDA driver, and at least
  one device.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass

BACKENDS = ("cpu", "cuda")


@dataclass(frozen=True)
class GPUStatus:
    """Whether the CUDA backend can run here, and if not, why.

    Attributes
    ----------
    available : bool
        CuPy imports, NVRTC loads, a driver answers and at least one device is present.
    reason : str
        Empty when available; otherwise the first thing that is missing, in words.
    devices : int
        Number of CUDA devices CuPy sees (0 when unavailable).
    """

    available: bool
    reason: str = ""
    devices: int = 0

    def __bool__(self) -> bool:
        return self.available


@functools.lru_cache(maxsize=1)
def gpu_status() -> GPUStatus:
    """Detect (once) whether CuPy, NVRTC, a CUDA driver and a device are present; see :class:`GPUStatus`."""
    try:
        import cupy
    except ImportError as exc:
        return GPUStatus(
            False,
            f"CuPy is not installed ({exc}); install optcore[cuda12] or optcore[cuda13] "
            "(the CuPy wheel matching your CUDA driver)",
        )
    except Exception as exc:  # a broken CuPy install raises other errors at import
        return GPUStatus(False, f"CuPy failed to import: {type(exc).__name__}: {exc}")
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # CUDARuntimeError without a driver, or with one too old for this CuPy
        return GPUStatus(False, f"no usable CUDA driver: {type(exc).__name__}: {exc}")
    if count < 1:
        return GPUStatus(False, "the CUDA driver reports no device")
    try:
        from cupy.cuda import nvrtc

        nvrtc.getVersion()
    except Exception as exc:  # CuPy loads NVRTC lazily; without it nothing can be compiled
        return GPUStatus(
            False,
            f"NVRTC (the CUDA run-time compiler) cannot be loaded: {type(exc).__name__}: {exc}; install the CUDA "
            "toolkit or the nvidia-cuda-nvrtc wheel matching CuPy",
            count,
        )
    return GPUStatus(True, "", count)


def gpu_available() -> bool:
    """True when the CUDA backend can run here: CuPy, NVRTC, a CUDA driver and a device are all present.

    When it is False, :func:`gpu_unavailable_reason` says which one is missing.
    """
    return gpu_status().available


def gpu_unavailable_reason() -> str:
    """Why :func:`gpu_available` is False (an empty string when it is True)."""
    return gpu_status().reason


def _cupy_module():
    """The cupy module if it is already imported (so checking NumPy inputs never imports CuPy)."""
    return sys.modules.get("cupy")


def cupy_imported() -> bool:
    """Whether CuPy was imported in this process: only then can an argument be a device array."""
    return sys.modules.get("cupy") is not None


def is_cupy_array(x) -> bool:
    """Whether ``x`` is a ``cupy.ndarray`` (False without importing CuPy when it was never imported)."""
    cupy = _cupy_module()
    return cupy is not None and isinstance(x, cupy.ndarray)


def _is_host_array(x) -> bool:
    import numpy as np

    return isinstance(x, np.ndarray) and not is_cupy_array(x)


def choose_backend(backend: str | None, arrays: dict[str, object]) -> str:
    """The backend of a call: ``"cpu"`` or ``"cuda"``.

    Parameters
    ----------
    backend : {None, "cpu", "cuda"}
        None: follow the arrays; otherwise the caller's explicit choice.
    arrays : dict of name -> object
        The call's array arguments (None and non-arrays are ignored), named for the error messages.

    Raises
    ------
    TypeError
        When CuPy and NumPy arrays are mixed, or when ``backend="cpu"`` receives CuPy arrays, or when
        ``backend`` is not a string.
    ValueError
        When ``backend`` is not one of ``BACKENDS``.
    RuntimeError
        When the CUDA backend is chosen and no GPU is usable (the message says why).
    """
    if (backend is None or backend == "cpu") and _cupy_module() is None:
        return "cpu"  # the usual call: no CuPy imported, so no argument can be a device array
    if backend is not None and not isinstance(backend, str):
        raise TypeError(f"backend must be None, 'cpu' or 'cuda', got {type(backend).__name__}")
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be None, 'cpu' or 'cuda', got {backend!r}")
    on_device = sorted(name for name, x in arrays.items() if is_cupy_array(x))
    on_host = sorted(name for name, x in arrays.items() if _is_host_array(x))
    if on_device and on_host:
        raise TypeError(
            f"arrays on different devices: {', '.join(on_device)} are CuPy (GPU) arrays but {', '.join(on_host)} "
            "are NumPy (host) arrays; move them to one side first (cupy.asarray / cupy.asnumpy)"
        )
    if backend == "cpu" and on_device:
        raise TypeError(
            f"backend='cpu' was asked for but {', '.join(on_device)} are CuPy (GPU) arrays; pass NumPy arrays "
            "(cupy.asnumpy) or use backend='cuda'"
        )
    chosen = backend or ("cuda" if on_device else "cpu")
    if chosen == "cuda":
        require_gpu()
    return chosen


def require_gpu() -> None:
    """Raise ``RuntimeError`` with the reason when the CUDA backend cannot run here."""
    status = gpu_status()
    if not status.available:
        raise RuntimeError(f"backend='cuda' needs a usable GPU, but {status.reason}")


def cupy():
    """The cupy module, for the CUDA backend only (call after :func:`require_gpu`)."""
    import cupy as _cupy

    return _cupy


def host_copy(x):
    """A NumPy copy of a CuPy array (other values unchanged).

    The CUDA paths validate their (small) inputs on the host with the same checks as the CPU paths, then upload
    them explicitly.
    """
    return x.get() if is_cupy_array(x) else x
