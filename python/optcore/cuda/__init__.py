"""The CUDA backend: kernels compiled at run time by CuPy (NVRTC) from ``*.cu`` sources shipped with the package.

The sources include the C++ core's headers (Philox streams, orders, component gradients, activations), so the GPU
computes from the same code as the CPU. Nothing here imports CuPy at import time; :mod:`optcore._backend` decides
when this backend runs and says why it cannot (:func:`optcore.gpu_available`, :func:`optcore.gpu_unavailable_reason`).

Modules: ``_compile`` (finding the headers, NVRTC options, the per-device module cache), ``orders`` (index streams),
``sgd`` (the batched engine), ``nn`` (network passes).
"""

from ._compile import SOURCES, header_dir, include_options, nvrtc_compile

__all__ = ["SOURCES", "header_dir", "include_options", "nvrtc_compile"]
