// The BLAS behind the wide-layer pass of networks (cpp/include/optcore/gemm.hpp): optcore._blas registers the
// addresses of OpenBLAS's cblas_sgemm/cblas_dgemm here at import, or nothing (the portable loop).
#include <cstdint>
#include <string>

#include "optcore/gemm.hpp"
#include "pybind11.hpp"

namespace optcore::bindings {

namespace {

/** alpha op(A) op(B) + beta C as a new array: the registered gemm, exposed for the tests. */
template <class T>
py::array_t<T> gemm_for_tests(py::array_t<T, py::array::c_style | py::array::forcecast> a,
                              py::array_t<T, py::array::c_style | py::array::forcecast> b,
                              py::array_t<T, py::array::c_style | py::array::forcecast> c, bool trans_a, bool trans_b,
                              T alpha, T beta) {
  OPTCORE_CHECK(a.ndim() == 2 && b.ndim() == 2 && c.ndim() == 2, "'a', 'b' and 'c' must be 2-D");
  const std::int64_t M = trans_a ? a.shape(1) : a.shape(0), K = trans_a ? a.shape(0) : a.shape(1);
  const std::int64_t KB = trans_b ? b.shape(1) : b.shape(0), N = trans_b ? b.shape(0) : b.shape(1);
  OPTCORE_CHECK(K == KB && c.shape(0) == M && c.shape(1) == N && M >= 1 && N >= 1 && K >= 1,
                "shapes do not chain: op(a) " << M << " x " << K << ", op(b) " << KB << " x " << N << ", c "
                                               << c.shape(0) << " x " << c.shape(1));
  py::array_t<T> out({M, N});
  std::copy_n(c.data(), M * N, out.mutable_data());
  gemm<T>(trans_a ? Trans::yes : Trans::no, trans_b ? Trans::yes : Trans::no, M, N, K, alpha, a.data(), a.shape(1),
          b.data(), b.shape(1), beta, out.mutable_data(), N);
  return out;
}

}  // namespace

void bind_blas(py::module_& m) {
  m.def(
      "_set_gemm",
      [](std::uintptr_t sgemm, std::uintptr_t dgemm) {
        OPTCORE_CHECK((sgemm == 0) == (dgemm == 0), "give both gemm addresses or neither");
        gemm_functions.sgemm.store(reinterpret_cast<CblasSgemm>(sgemm));
        gemm_functions.dgemm.store(reinterpret_cast<CblasDgemm>(dgemm));
      },
      py::arg("sgemm"), py::arg("dgemm"),
      "Register CBLAS sgemm/dgemm (32-bit sizes) by address, or 0, 0 for the portable loop (private).");
  m.def(
      "_gemm_backend", [] { return std::string(gemm_functions.dgemm.load() ? "blas" : "fallback"); },
      "'blas' when a CBLAS gemm is registered, else 'fallback' (private).");
  m.def("_gemm", &gemm_for_tests<float>, py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(),
        py::arg("trans_a"), py::arg("trans_b"), py::arg("alpha"), py::arg("beta"));
  m.def("_gemm", &gemm_for_tests<double>, py::arg("a").noconvert(), py::arg("b").noconvert(),
        py::arg("c").noconvert(), py::arg("trans_a"), py::arg("trans_b"), py::arg("alpha"), py::arg("beta"),
        "alpha op(a) op(b) + beta c through the registered gemm (private, for the tests).");
}

}  // namespace optcore::bindings
