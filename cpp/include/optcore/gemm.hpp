/** @file gemm.hpp
 *  Dense matrix products for the wide-layer pass of networks (mlp_gemm.hpp): row-major
 *  C = alpha op(A) op(B) + beta C.
 *
 *  The product goes to a CBLAS gemm when one has been registered (optcore._blas loads the OpenBLAS of the
 *  scipy-openblas32 wheel at import and hands the addresses of its cblas_sgemm/cblas_dgemm over, single-threaded),
 *  else to the portable blocked loop below. Nothing is linked at build time, so installing never needs a BLAS and
 *  a missing library only costs speed.
 *
 *  Bits: which gemm runs is one process-wide choice, made before any loop starts. Each call is deterministic for
 *  its shapes (OpenBLAS single-threaded, like the loop below, sums in an order fixed by the shapes and the CPU
 *  kernel it picked at load time), so a run's bits do not depend on the thread count or on the other runs of a
 *  call. They may differ between the BLAS and the fallback, and between CPUs with different OpenBLAS kernels.
 */
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "optcore/config.hpp"
#include "optcore/isa.hpp"
#include "optcore/kernels.hpp"

namespace optcore {

/** CBLAS gemm signatures (cblas.h) with 32-bit sizes, as scipy-openblas32 exports them (scipy_cblas_?gemm). */
using CblasSgemm = void (*)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a,
                            int lda, const float* b, int ldb, float beta, float* c, int ldc);
using CblasDgemm = void (*)(int order, int trans_a, int trans_b, int m, int n, int k, double alpha, const double* a,
                            int lda, const double* b, int ldb, double beta, double* c, int ldc);

/** The registered gemm functions; null: the portable loop. */
struct GemmFunctions {
  std::atomic<CblasSgemm> sgemm{nullptr};
  std::atomic<CblasDgemm> dgemm{nullptr};
};

/**
 * One table for the whole extension module. It lives outside the instruction-set namespaces (isa.hpp) so that the
 * portable and the AVX2 copy of the loops read the same choice; an inline variable with a constant initializer
 * generates no code, so the AVX2 translation unit cannot leak AVX2 instructions into it.
 */
inline GemmFunctions gemm_functions;

OPTCORE_ISA_BEGIN

/** Whether a matrix is used as stored or transposed. */
enum class Trans : int { no = 111, yes = 112 };  // CBLAS's CblasNoTrans / CblasTrans
constexpr int kCblasRowMajor = 101;

namespace gemm_detail {

/** Per-thread buffer for op(B) copied as a K x N row-major panel. */
template <class T>
std::vector<T>& panel_buffer(std::size_t size) {
  thread_local std::vector<T> v;
  if (v.size() < size) v.resize(size);
  return v;
}

/**
 * The portable product: op(B) is first made a row-major K x N panel (copied, transposed, when tb = yes), then
 * every row of C is C[i, :] = beta C[i, :] + sum_p (alpha a_ip) panel[p, :], the terms added in order p = 0, 1,
 * ...; columns in blocks of kColumns so a block of a row of C stays in L1. Elementwise vector arithmetic only (no
 * FMA), so the portable and the AVX2 copy give the same bits.
 */
template <class T>
void fallback_gemm(Trans ta, Trans tb, std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
                   std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  constexpr std::int64_t kColumns = 256;
  const T* panel = B;
  std::int64_t ldp = ldb;
  if (tb == Trans::yes) {  // B is N x K: transpose it once
    std::vector<T>& buf = panel_buffer<T>(static_cast<std::size_t>(K * N));
    for (std::int64_t j = 0; j < N; ++j)
      for (std::int64_t p = 0; p < K; ++p) buf[p * N + j] = B[j * ldb + p];
    panel = buf.data();
    ldp = N;
  }
  for (std::int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0))
      std::fill_n(c, N, T(0));
    else if (beta != T(1))
      for (std::int64_t j = 0; j < N; ++j) c[j] *= beta;
    for (std::int64_t j0 = 0; j0 < N; j0 += kColumns) {
      const std::int64_t cols = std::min(kColumns, N - j0);
      for (std::int64_t p = 0; p < K; ++p) {
        const T a = ta == Trans::no ? A[i * lda + p] : A[p * lda + i];
        axpy(alpha * a, panel + p * ldp + j0, c + j0, cols);
      }
    }
  }
}

}  // namespace gemm_detail

/**
 * C = alpha op(A) op(B) + beta C, all row-major: op(A) is M x K, op(B) is K x N, C is M x N; lda, ldb, ldc are the
 * row strides of A, B, C as stored. The registered BLAS if any (see the file comment), else the portable loop.
 */
template <class T>
void gemm(Trans ta, Trans tb, std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A, std::int64_t lda,
          const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  constexpr std::int64_t kIntMax = 2147483647;
  OPTCORE_CHECK(M <= kIntMax && N <= kIntMax && K <= kIntMax && lda <= kIntMax && ldb <= kIntMax && ldc <= kIntMax,
                "matrix dimensions beyond 32-bit BLAS sizes: " << M << " x " << N << " x " << K);
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  const int ta_code = static_cast<int>(ta), tb_code = static_cast<int>(tb);
  if constexpr (std::is_same_v<T, float>) {
    if (const CblasSgemm f = gemm_functions.sgemm.load(std::memory_order_relaxed)) {
      f(kCblasRowMajor, ta_code, tb_code, m, n, k, alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta,
        C, static_cast<int>(ldc));
      return;
    }
  } else {
    if (const CblasDgemm f = gemm_functions.dgemm.load(std::memory_order_relaxed)) {
      f(kCblasRowMajor, ta_code, tb_code, m, n, k, alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta,
        C, static_cast<int>(ldc));
      return;
    }
  }
  gemm_detail::fallback_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

OPTCORE_ISA_END
}  // namespace optcore
