"""Finding, compiling and caching the CUDA sources.

The kernels (``*.cu`` next to this file) include the C++ core's headers (``optcore/*.hpp``), which the wheel ships
as package data under ``optcore/include`` (CMakeLists.txt installs them); in a source tree the headers are read from
``cpp/include``. NVRTC has no C++ standard library, so ``nvrtc_std/`` supplies the few declarations the headers take
from ``<cstdint>`` and ``<cmath>``; nvcc and g++ never see it.

Modules are compiled lazily by NVRTC, loaded with ``cupy.RawModule`` and cached per (source, defines, device);
``sgd.cu`` is compiled once per (problem kind, dtype) through its defines, which keeps each NVRTC compile small.
The options fix the arithmetic: ``--fmad=false`` keeps multiplies and adds separate, as the CPU build does (no
FMA), and ``-ftz=false`` keeps float32 denormals, so the GPU computes the same operations in the same order as the
CPU.
"""

from __future__ import annotations

import hashlib
import os
import threading
from importlib import resources
from pathlib import Path

#: The CUDA sources, each compiled into its own module.
SOURCES = ("orders.cu", "sgd.cu", "nn.cu")

#: NVRTC options besides the include paths and the architecture. --fmad=false and -ftz=false keep the CPU's
#: arithmetic (no fused multiply-adds, float32 denormals kept); -default-device: functions without
#: __host__/__device__ (e.g. the problems' constructors) may run on the device.
NVRTC_OPTIONS = ("-std=c++17", "--fmad=false", "-ftz=false", "-prec-div=true", "-prec-sqrt=true", "-default-device")

_HERE = Path(__file__).resolve().parent
_modules: dict[tuple, object] = {}
#: True: run NVRTC here and load the PTX (keeps -ftz=false); False: let CuPy compile the source (the test emulator).
LOAD_PTX = True
_lock = threading.Lock()


def header_dir() -> Path:
    """The directory holding ``optcore/*.hpp``: the installed package data, else the source tree's ``cpp/include``.

    Raises
    ------
    FileNotFoundError
        When neither exists (a broken install).
    """
    installed = Path(str(resources.files("optcore"))) / "include"
    if (installed / "optcore" / "orders.hpp").is_file():
        return installed
    source_tree = _HERE.parents[2] / "cpp" / "include"  # python/optcore/cuda -> repository root
    if (source_tree / "optcore" / "orders.hpp").is_file():
        return source_tree
    raise FileNotFoundError(
        f"the optcore C++ headers are missing: looked for {installed}/optcore and {source_tree}/optcore; "
        "reinstall optcore (the wheel ships them as package data)"
    )


def std_shim_dir() -> Path:
    """The directory of the minimal standard headers for NVRTC (``nvrtc_std/``)."""
    return _HERE / "nvrtc_std"


def include_options() -> tuple[str, ...]:
    """The ``-I`` options of an NVRTC compile: the core's headers and the standard-header shims."""
    return (f"-I{header_dir()}", f"-I{std_shim_dir()}")


def source_text(name: str) -> str:
    """The text of one source, prefixed with a digest of every header.

    CuPy's on-disk cache is keyed by the source text and options, so the digest keeps it from serving a kernel
    built from older headers.
    """
    if name not in SOURCES:
        raise ValueError(f"unknown CUDA source {name!r}; expected one of {SOURCES}")
    text = (_HERE / name).read_text()
    digest = hashlib.sha256()
    for path in sorted((header_dir() / "optcore").glob("*.hpp")) + sorted(std_shim_dir().iterdir()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return f"// optcore headers sha256 {digest.hexdigest()}\n{text}"


def define_options(defines: dict[str, str] | None) -> tuple[str, ...]:
    """``-DNAME=VALUE`` options, in a fixed order."""
    return tuple(f"-D{k}={v}" for k, v in sorted((defines or {}).items()))


def module(name: str, defines: dict[str, str] | None = None):
    """The compiled ``cupy.RawModule`` of source ``name`` (with ``defines``) for the current device.

    Compiled on first use and cached in memory, and on disk as PTX (:func:`ptx_cache_dir`). optcore runs NVRTC
    itself (:func:`nvrtc_compile`) and loads the PTX, because ``RawModule(code=...)`` appends ``-ftz=true``, which
    would flush float32 denormals to zero where the CPU keeps them. Where that fails (an NVRTC that does not know
    the device's architecture) it falls back to ``RawModule(code=...)``.
    """
    from .._backend import cupy, require_gpu

    require_gpu()
    cp = cupy()
    device = cp.cuda.Device()
    key = (name, define_options(defines), device.id)
    with _lock:
        mod = _modules.get(key)
        if mod is None:
            path = _cached_ptx(name, f"compute_{device.compute_capability}", defines) if LOAD_PTX else None
            if path is None:
                options = NVRTC_OPTIONS + include_options() + define_options(defines)
                mod = cp.RawModule(code=source_text(name), options=options)
            else:
                mod = cp.RawModule(path=str(path))
            mod.compile()  # load now, so errors surface here and not at the first kernel launch
            _modules[key] = mod
    return mod


def _cached_ptx(name: str, arch: str, defines: dict[str, str] | None) -> Path | None:
    """The PTX file of (source, arch, defines), compiled now unless the disk cache has it.

    None when this NVRTC does not know ``arch`` (the caller then lets CuPy compile the source).
    """
    from cupy_backends.cuda.libs import nvrtc

    key = "\0".join((source_text(name), arch, *NVRTC_OPTIONS, *define_options(defines), str(nvrtc.getVersion())))
    path = ptx_cache_dir() / f"{name[:-3]}-{hashlib.sha256(key.encode()).hexdigest()[:32]}.ptx"
    if path.exists():
        return path
    try:
        ptx = nvrtc_compile(name, arch=arch, defines=defines)
    except RuntimeError as exc:
        if "INVALID_OPTION" in str(exc):
            return None
        raise  # a real compile error
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(ptx)
    tmp.replace(path)  # atomic: concurrent processes never load a partial file
    return path


def ptx_cache_dir() -> Path:
    """Where compiled PTX is kept: ``$OPTCORE_CACHE_DIR/cuda``, else ``~/.cache/optcore/cuda``."""
    root = os.environ.get("OPTCORE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "optcore")
    path = Path(root) / "cuda"
    path.mkdir(parents=True, exist_ok=True)
    return path


def kernel(source: str, name: str, defines: dict[str, str] | None = None):
    """The kernel ``name`` of ``source`` (compiled with ``defines``) for the current device."""
    return module(source, defines).get_function(name)


def nvrtc_compile(
    name: str, *, arch: str = "compute_80", defines: dict[str, str] | None = None, optimize: bool = True
) -> bytes:
    """Compile source ``name`` to PTX through NVRTC alone, without a GPU or a driver (for tests and checks).

    Uses the NVRTC library that CuPy loads (``cupy_backends.cuda.libs.nvrtc``), with the same options as
    :func:`module` plus an explicit virtual architecture. ``optimize=False`` adds ``-G`` (device debug: the whole
    front end and code generation, without the optimizer, about 100 times faster) for quick checks.

    Returns
    -------
    bytes
        The PTX.

    Raises
    ------
    RuntimeError
        With NVRTC's log when the compile fails.
    """
    from cupy_backends.cuda.libs import nvrtc

    prog = nvrtc.createProgram(source_text(name), name, (), ())
    options = (*NVRTC_OPTIONS, *include_options(), *define_options(defines), f"--gpu-architecture={arch}")
    if not optimize:
        options += ("-G",)
    try:
        nvrtc.compileProgram(prog, list(options))
    except Exception as exc:
        log = nvrtc.getProgramLog(prog)
        raise RuntimeError(f"NVRTC failed to compile {name} for {arch}: {exc}\n{log}") from exc
    try:
        ptx = nvrtc.getPTX(prog)
    finally:
        nvrtc.destroyProgram(prog)
    return ptx if isinstance(ptx, bytes) else ptx.encode()
