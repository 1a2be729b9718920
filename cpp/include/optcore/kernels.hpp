/** @file kernels.hpp
 *  Small dense vector kernels used in the hot loops.
 *
 *  The dot product keeps eight partial sums (lane j mod 8) combined as a fixed balanced tree. Two implementations
 *  compute exactly this -- GCC/Clang vector extensions on the CPU, a plain loop elsewhere (GPU, other compilers) --
 *  so every build and every caller gets the same bits, whatever the vector width the compiler targets.
 */
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "optcore/config.hpp"
#include "optcore/isa.hpp"

#if (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__) && !defined(__CUDACC_RTC__)
#define OPTCORE_VECTOR_EXTENSIONS 1
// 4-vectors of double are AVX-sized: GCC warns that passing them by value would change the ABI without AVX.
// They never cross a function boundary that is not inlined, so the warning does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace optcore {
OPTCORE_ISA_BEGIN

namespace detail {

/** The reference form of dot(): eight lanes, lane l holds the terms j = l mod 8, then the tree below. */
template <class T>
OPTCORE_HD inline T dot_lanes(const T* a, const T* b, std::int64_t d) {
  T acc[8] = {T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0)};
  for (std::int64_t j = 0; j < d; ++j) acc[j % 8] += a[j] * b[j];
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

#ifdef OPTCORE_VECTOR_EXTENSIONS
// OPTCORE_TARGET_AVX2 / _AVX512 mark the AVX2 and AVX-512 copies of the loops: `#pragma GCC target` does not define
// __AVX__ in C++. A vector of 8 doubles (AVX-512) holds the eight partial sums in one register.
#if defined(__AVX512F__) || defined(OPTCORE_TARGET_AVX512)
constexpr int kVectorBytes = 64;
#elif defined(__AVX__) || defined(OPTCORE_TARGET_AVX2)
constexpr int kVectorBytes = 32;
#else
constexpr int kVectorBytes = 16;
#endif

/** The widest vector of T the target has natively (at most 8 lanes): GCC spills wider emulated vectors. */
template <class T>
struct NativeVec {
  static constexpr int width = kVectorBytes / sizeof(T) < 8 ? kVectorBytes / sizeof(T) : 8;
  typedef T type __attribute__((vector_size(width * sizeof(T))));
};

template <class T>
inline typename NativeVec<T>::type load_vec(const T* p) {
  typename NativeVec<T>::type v;
  std::memcpy(&v, p, sizeof(v));  // unaligned load
  return v;
}

template <class T>
inline void store_vec(T* p, const typename NativeVec<T>::type& v) {
  std::memcpy(p, &v, sizeof(v));
}

/** The fixed tree ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) of dot_lanes() over the eight lanes held in
 *  8 / W vectors (lane l is element l % W of vector l / W), as vector adds where the lanes line up. */
template <class T, class V>
inline T reduce_lanes(const V* acc) {
  constexpr int W = NativeVec<T>::width;
  if constexpr (W == 2) {
    const V t = (acc[0] + acc[2]) + (acc[1] + acc[3]);  // ((l0+l4) + (l2+l6), (l1+l5) + (l3+l7))
    return t[0] + t[1];
  } else if constexpr (W == 4) {
    const V s = acc[0] + acc[1];  // (l0+l4, l1+l5, l2+l6, l3+l7)
    return (s[0] + s[2]) + (s[1] + s[3]);
  } else {
    const V& x = acc[0];
    return ((x[0] + x[4]) + (x[2] + x[6])) + ((x[1] + x[5]) + (x[3] + x[7]));
  }
}

/** dot_lanes() with the eight lanes held in 8 / width native vectors (lane l is element l % W of vector l / W). */
template <class T>
inline T dot_vector(const T* a, const T* b, std::int64_t d) {
  using V = typename NativeVec<T>::type;
  constexpr int W = NativeVec<T>::width, nv = 8 / W;
  V acc[nv];
  for (int v = 0; v < nv; ++v) acc[v] = V{} * T(0);
  std::int64_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int v = 0; v < nv; ++v) acc[v] += load_vec(a + j + v * W) * load_vec(b + j + v * W);
  // The last d mod 8 terms go to lanes 0, 1, ...: whole vectors first (a loop over the constant nv, unrolled,
  // so the accumulators stay in registers), then single lanes.
  const std::int64_t tail_start = j;
  for (int v = 0; v < nv; ++v) {
    if (j + W <= d) {
      acc[v] += load_vec(a + j) * load_vec(b + j);
      j += W;
    }
  }
  for (std::int64_t l = j - tail_start; j < d; ++j, ++l) acc[l / W][l % W] += a[j] * b[j];
  return reduce_lanes<T>(acc);
}

/**
 * out[r] = dot(a[r], b, d) for R rows at once, each with dot_vector()'s operations in its order (the same bits):
 * the rows' independent chains of adds overlap, and b is loaded once for all R.
 */
template <class T, int R>
inline void dot_vector_rows(const T* const* a, const T* b, std::int64_t d, T* out) {
  using V = typename NativeVec<T>::type;
  constexpr int W = NativeVec<T>::width, nv = 8 / W;
  V acc[R][nv];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < nv; ++v) acc[r][v] = V{} * T(0);
  std::int64_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int v = 0; v < nv; ++v) {
      const V bv = load_vec(b + j + v * W);
      for (int r = 0; r < R; ++r) acc[r][v] += load_vec(a[r] + j + v * W) * bv;
    }
  const std::int64_t tail_start = j;
  for (int v = 0; v < nv; ++v) {
    if (j + W <= d) {
      const V bv = load_vec(b + j);
      for (int r = 0; r < R; ++r) acc[r][v] += load_vec(a[r] + j) * bv;
      j += W;
    }
  }
  // The last d mod W terms go to lanes 0, 1, ... of vector (j - tail_start) / W, as in dot_vector(); added here as
  // one vector whose other lanes hold -0.0, which leaves any sum unchanged (x + -0 is x, also for x = +0 or -0), so
  // that no accumulator is indexed at run time (that would keep them all in memory).
  if (j < d) {
    const int used = static_cast<int>((j - tail_start) / W), rest = static_cast<int>(d - j);
    for (int r = 0; r < R; ++r) {
      T buf[W];
      for (int l = 0; l < W; ++l) buf[l] = l < rest ? a[r][j + l] * b[j + l] : T(-0.0);
      const V t = load_vec(buf);
      for (int v = 0; v < nv; ++v)
        if (v == used) acc[r][v] += t;
    }
  }
  for (int r = 0; r < R; ++r) out[r] = reduce_lanes<T>(acc[r]);
}

/**
 * g[j] += alphas[k] * rows[k][j] (then, with Ridge, += beta * x[j]) for k = 0, 1, ..., count - 1 in that order,
 * for NV vectors of columns from j0: axpy()'s operations row after row, so the bits of one axpy() per row, with
 * the columns' sums held in registers across the rows instead of going through memory for every row.
 */
template <class T, int NV, bool Ridge>
inline void accumulate_rows_block(const T* const* rows, const T* alphas, std::int64_t count, const T* x, T beta,
                                  T* g, std::int64_t j0) {
  using V = typename NativeVec<T>::type;
  constexpr int W = NativeVec<T>::width;
  V acc[NV], xv[NV];
  for (int v = 0; v < NV; ++v) {
    acc[v] = load_vec(g + j0 + v * W);
    xv[v] = Ridge ? load_vec(x + j0 + v * W) : V{};
  }
  for (std::int64_t k = 0; k < count; ++k) {
    const T al = alphas[k];
    const T* a = rows[k] + j0;
    for (int v = 0; v < NV; ++v) acc[v] = acc[v] + al * load_vec(a + v * W);
    if constexpr (Ridge)
      for (int v = 0; v < NV; ++v) acc[v] = acc[v] + beta * xv[v];
  }
  for (int v = 0; v < NV; ++v) store_vec(g + j0 + v * W, acc[v]);
}

/** accumulate_rows_block() over every column of g (d of them): blocks of 8, 4 and 1 vectors, then single columns. */
template <class T, bool Ridge>
inline void accumulate_rows(const T* const* rows, const T* alphas, std::int64_t count, const T* x, T beta, T* g,
                            std::int64_t d) {
  constexpr int W = NativeVec<T>::width;
  std::int64_t j = 0;
  for (; j + 8 * W <= d; j += 8 * W) accumulate_rows_block<T, 8, Ridge>(rows, alphas, count, x, beta, g, j);
  for (; j + 4 * W <= d; j += 4 * W) accumulate_rows_block<T, 4, Ridge>(rows, alphas, count, x, beta, g, j);
  for (; j + W <= d; j += W) accumulate_rows_block<T, 1, Ridge>(rows, alphas, count, x, beta, g, j);
  const int rest = static_cast<int>(d - j);  // < W columns left
  if (rest == 0) return;
  if (d >= W) {  // one vector over the last W columns; only its last `rest` lanes are kept
    using V = typename NativeVec<T>::type;
    const std::int64_t j0 = d - W;
    V acc = load_vec(g + j0);
    const V xv = Ridge ? load_vec(x + j0) : V{};
    for (std::int64_t k = 0; k < count; ++k) {
      acc = acc + alphas[k] * load_vec(rows[k] + j0);
      if constexpr (Ridge) acc = acc + beta * xv;
    }
    T out[W];
    store_vec(out, acc);
    for (int c = W - rest; c < W; ++c) g[j0 + c] = out[c];
    return;
  }
  T acc[8];
  for (int c = 0; c < rest; ++c) acc[c] = g[j + c];
  for (std::int64_t k = 0; k < count; ++k) {
    const T al = alphas[k];
    const T* a = rows[k] + j;
    for (int c = 0; c < rest; ++c) acc[c] = acc[c] + al * a[c];
    if constexpr (Ridge)
      for (int c = 0; c < rest; ++c) acc[c] = acc[c] + beta * x[j + c];
  }
  for (int c = 0; c < rest; ++c) g[j + c] = acc[c];
}
#endif

}  // namespace detail

/** sum_j a[j] * b[j], with 8 interleaved partial sums combined in a fixed order (see the file comment). */
template <class T>
OPTCORE_HD inline T dot(const T* __restrict a, const T* __restrict b, std::int64_t d) {
#ifdef OPTCORE_VECTOR_EXTENSIONS
  return detail::dot_vector(a, b, d);
#else
  return detail::dot_lanes(a, b, d);
#endif
}

/**
 * Whether every x[j] is finite. x - x is +0 for a finite x and NaN for an infinity or a NaN, so one sum of those
 * differences tells, in vectors and without a branch per element (the divergence check runs after every epoch,
 * and for full-batch training an epoch is one step).
 */
template <class T>
OPTCORE_HD inline bool all_finite(const T* x, std::int64_t d) {
  T tail = T(0);
  std::int64_t j = 0;
#ifdef OPTCORE_VECTOR_EXTENSIONS
  using V = typename detail::NativeVec<T>::type;
  constexpr int W = detail::NativeVec<T>::width;
  V acc[4] = {V{}, V{}, V{}, V{}};  // four independent sums: the adds' latency does not bound the loop
  for (; j + 4 * W <= d; j += 4 * W)
    for (int k = 0; k < 4; ++k) {
      const V a = detail::load_vec(x + j + k * W);
      acc[k] += a - a;
    }
  const V sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  for (int l = 0; l < W; ++l) tail += sum[l];
#endif
  for (; j < d; ++j) tail += x[j] - x[j];
  return tail == T(0);
}

/** y += alpha * x (elementwise, so the vector and scalar forms give the same bits) */
template <class T>
OPTCORE_HD inline void axpy(T alpha, const T* __restrict x, T* __restrict y, std::int64_t d) {
  std::int64_t j = 0;
#ifdef OPTCORE_VECTOR_EXTENSIONS
  constexpr int W = detail::NativeVec<T>::width;
  for (; j + W <= d; j += W) detail::store_vec(y + j, detail::load_vec(y + j) + alpha * detail::load_vec(x + j));
#endif
  for (; j < d; ++j) y[j] += alpha * x[j];
}

/** x *= alpha */
template <class T>
OPTCORE_HD inline void scale(T alpha, T* x, std::int64_t d) {
  for (std::int64_t j = 0; j < d; ++j) x[j] *= alpha;
}

namespace detail {
/** The normal range of T (std::numeric_limits is not available under NVRTC). */
template <class T>
struct NormalRange;
template <>
struct NormalRange<float> {
  static constexpr float tiny = 1.17549435e-38f, huge = 3.40282347e+38f;
};
template <>
struct NormalRange<double> {
  static constexpr double tiny = 2.2250738585072014e-308, huge = 1.7976931348623157e+308;
};
}  // namespace detail

/**
 * |x - y|. Where the plain sum of squares is a normal number, its square root (the bits a plain reference
 * computes). Where that sum overflows or underflows, the differences are divided by the largest one first, so the
 * result is inf only when the distance itself is not representable (e.g. |x| = 1e200 in float64 is fine).
 */
template <class T>
OPTCORE_HD inline T euclidean_distance(const T* x, const T* y, std::int64_t d) {
  T total = T(0);
  for (std::int64_t j = 0; j < d; ++j) {
    const T e = x[j] - y[j];
    total += e * e;
  }
  if (total >= detail::NormalRange<T>::tiny && total <= detail::NormalRange<T>::huge) return std::sqrt(total);
  T largest = T(0);
  for (std::int64_t j = 0; j < d; ++j) {
    const T a = std::fabs(x[j] - y[j]);
    if (a > largest) largest = a;  // false for NaN
  }
  // all differences 0, or one infinite or NaN: the plain sum already is the answer (0, inf or NaN)
  if (!(largest > T(0)) || !(largest <= detail::NormalRange<T>::huge) || total != total) return std::sqrt(total);
  T scaled = T(0);
  for (std::int64_t j = 0; j < d; ++j) {
    const T e = (x[j] - y[j]) / largest;
    scaled += e * e;
  }
  return largest * std::sqrt(scaled);
}

/** 1/2 e' H e for a dense symmetric d x d matrix H (row-major). */
template <class T>
OPTCORE_HD inline T half_quadratic_form(const T* H, const T* e, std::int64_t d) {
  T total = T(0);
  for (std::int64_t i = 0; i < d; ++i) total += e[i] * dot(H + i * d, e, d);
  return T(0.5) * total;
}

OPTCORE_ISA_END
}  // namespace optcore
