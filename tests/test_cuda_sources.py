"""The CUDA sources without a GPU: they ship with the package, find the shared headers, and compile.

Compiles run with nvcc when it is on PATH and with NVRTC (the run-time compiler CuPy uses) when CuPy and an NVRTC
library are installed; otherwise those tests are skipped with the reason. Neither needs a GPU or a driver. The quick
compiles (``-G``: the full front end and code generation, no optimizer) run by default; the optimizing compiles of
every kernel for sm_80 and sm_90 are marked slow (several minutes on a small machine).
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from optcore.cuda import _compile
from optcore.cuda.sgd import KINDS, REALS

REPO = Path(__file__).resolve().parents[1]
NVCC = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH (the CUDA toolkit is not installed)")

#: every (source, defines) that the package compiles at run time: sgd.cu once per problem kind and dtype
VARIANTS = [("orders.cu", {}), ("nn.cu", {})] + [
    ("sgd.cu", {"OPTCORE_SGD_PROBLEM": str(code), "OPTCORE_SGD_REAL": real})
    for code in KINDS.values()
    for real in REALS.values()
]
VARIANT_IDS = [f"{name}{'-' + '-'.join(d.values()) if d else ''}" for name, d in VARIANTS]


def _nvrtc_reason():
    try:
        from cupy_backends.cuda.libs import nvrtc

        nvrtc.getVersion()
    except Exception as exc:  # ImportError without CuPy; a load error without the NVRTC library
        return f"NVRTC is not available ({type(exc).__name__}: {exc}); pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12"
    return None


NVRTC_REASON = _nvrtc_reason()
needs_nvrtc = pytest.mark.skipif(NVRTC_REASON is not None, reason=NVRTC_REASON or "")


def test_sources_are_package_data():
    here = Path(_compile.__file__).parent
    for name in _compile.SOURCES:
        assert (here / name).is_file(), name
    for shim in ("cstdint", "cmath", "cstring"):
        assert (_compile.std_shim_dir() / shim).is_file()


def test_every_header_ships_with_the_package():
    """CMakeLists.txt installs cpp/include/optcore into the package, so CuPy compiles against the same headers."""
    shipped = _compile.header_dir() / "optcore"
    for header in (REPO / "cpp" / "include" / "optcore").glob("*.hpp"):
        same = (shipped / header.name).read_bytes() == header.read_bytes()
        assert same, f"{header.name} differs from the installed copy"


def test_sources_include_the_shared_headers():
    includes = {
        name: re.findall(r'#include "optcore/(\w+)\.hpp"', (REPO / "python/optcore/cuda" / name).read_text())
        for name in _compile.SOURCES
    }
    assert "orders" in includes["orders.cu"]
    assert {"orders", "problems"} <= set(includes["sgd.cu"])
    assert {"activations", "kernels"} <= set(includes["nn.cu"])


def test_source_text_carries_a_header_digest():
    text = _compile.source_text("orders.cu")
    assert re.match(r"// optcore headers sha256 [0-9a-f]{64}\n", text)
    with pytest.raises(ValueError, match="unknown CUDA source"):
        _compile.source_text("missing.cu")


def test_options_keep_the_cpu_arithmetic():
    assert "--fmad=false" in _compile.NVRTC_OPTIONS  # no fused multiply-adds, as in the CPU build
    assert "-ftz=false" in _compile.NVRTC_OPTIONS  # float32 denormals kept, as on the CPU
    assert _compile.define_options({"B": "2", "A": "1"}) == ("-DA=1", "-DB=2")


def _nvcc(source: str, defines: dict, *args: str, tmp_path: Path) -> None:
    cmd = [NVCC, "-std=c++17", "--fmad=false", "-I", str(REPO / "cpp" / "include"), *args]
    cmd += [f"-D{k}={v}" for k, v in defines.items()]
    cmd += [str(REPO / "python" / "optcore" / "cuda" / source), "-o", str(tmp_path / "out")]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stdout}\n{result.stderr}"
    assert "warning" not in result.stderr.lower(), result.stderr


@needs_nvcc
@pytest.mark.parametrize(("source", "defines"), VARIANTS, ids=VARIANT_IDS)
def test_nvcc_compiles_quickly(source, defines, tmp_path):
    _nvcc(source, defines, "-arch=compute_80", "--ptx", "-G", tmp_path=tmp_path)


@needs_nvcc
@pytest.mark.slow
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize(("source", "defines"), VARIANTS, ids=VARIANT_IDS)
def test_nvcc_compiles_optimized(source, defines, arch, tmp_path):
    _nvcc(source, defines, f"-arch={arch}", "-c", tmp_path=tmp_path)


@needs_nvrtc
@pytest.mark.parametrize("arch", ["compute_80", "compute_90"])
@pytest.mark.parametrize(("source", "defines"), VARIANTS, ids=VARIANT_IDS)
def test_nvrtc_compiles_quickly(source, defines, arch):
    ptx = _compile.nvrtc_compile(source, arch=arch, defines=defines, optimize=False)
    assert b".entry" in ptx  # at least one kernel
    # The CPU's arithmetic: denormals kept, no fused multiply-add -- except inside CUDA's exp/log/tanh (libdevice
    # uses fma and ftz approximations internally), which only the logistic/exponential/Poisson kernels and nn.cu call.
    transcendental = source == "nn.cu" or defines.get("OPTCORE_SGD_PROBLEM") in ("1", "2", "7")
    if not transcendental:
        assert b".ftz" not in ptx and b"fma." not in ptx


@needs_nvrtc
@pytest.mark.slow
@pytest.mark.parametrize("arch", ["compute_80", "compute_90"])
@pytest.mark.parametrize(("source", "defines"), VARIANTS, ids=VARIANT_IDS)
def test_nvrtc_compiles_optimized(source, defines, arch):
    ptx = _compile.nvrtc_compile(source, arch=arch, defines=defines)
    names = set(re.findall(rb"\.entry (\w+)", ptx))
    expected = {
        "orders.cu": {b"optcore_epoch_orders"},
        "nn.cu": {b"optcore_mlp_f64", b"optcore_mlp_f32"},
        "sgd.cu": {b"optcore_sgd"},
    }[source]
    assert names == expected


def test_ptx_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("OPTCORE_CACHE_DIR", str(tmp_path))
    assert _compile.ptx_cache_dir() == tmp_path / "cuda" and (tmp_path / "cuda").is_dir()


@needs_nvrtc
def test_ptx_disk_cache(monkeypatch, tmp_path):
    """The PTX is compiled once per (source, arch, defines, options, NVRTC version), then read from disk."""
    monkeypatch.setenv("OPTCORE_CACHE_DIR", str(tmp_path))
    calls = []
    real = _compile.nvrtc_compile

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs, optimize=False)

    monkeypatch.setattr(_compile, "nvrtc_compile", counting)
    first = _compile._cached_ptx("orders.cu", "compute_80", None)
    again = _compile._cached_ptx("orders.cu", "compute_80", None)
    other = _compile._cached_ptx("orders.cu", "compute_90", None)
    assert first == again != other and len(calls) == 2
    assert b".entry optcore_epoch_orders" in first.read_bytes()
    assert _compile._cached_ptx("orders.cu", "compute_1", None) is None  # an architecture NVRTC does not know


@needs_nvrtc
def test_nvrtc_reports_errors():
    with pytest.raises(RuntimeError, match="NVRTC failed to compile orders.cu"):
        _compile.nvrtc_compile("orders.cu", arch="compute_80", defines={"optcore": "1 +"}, optimize=False)
