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
#ifndef __CUDACC_RTC__
#include <type_traits>
#endif

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

/** Integer vectors of NativeVec<T>'s shape: lane masks for the vector form of ?:. */
template <class T>
struct NativeMask {
  using Int = std::conditional_t<sizeof(T) == 8, std::int64_t, std::int32_t>;
  typedef Int type __attribute__((vector_size(NativeVec<T>::width * sizeof(T))));
};

/**
 * How the row-block kernels below split a row of d columns: whole groups of 8 (dot()'s eight lanes), whole vectors
 * of W = NativeVec<T>::width, and the last d mod W columns (the tail), which go to lanes 0, 1, ... of accumulator
 * vector `used` of dot_vector().
 */
template <class T>
struct ColumnSplit {
  using Mask = typename NativeMask<T>::type;
  std::int64_t d = 0, d8 = 0, full = 0;  ///< columns; in whole groups of 8; in whole vectors
  int rest = 0, used = 0;                ///< d mod W; the accumulator the tail goes to
  Mask tail_mask{};                      ///< lanes < rest

  explicit ColumnSplit(std::int64_t dim) : d(dim), d8(dim - dim % 8) {
    constexpr int W = NativeVec<T>::width;
    full = dim - dim % W;
    rest = static_cast<int>(dim % W);
    used = static_cast<int>((full - d8) / W);
    for (int l = 0; l < W; ++l) tail_mask[l] = l < rest ? -1 : 0;
  }
};

/** A block's rows given by pointers: row r at rows[r], its tail (dot_rows_block()) at tails[r]. */
template <class T>
struct RowPointers {
  const T* const* rows;
  const T* const* tails;
  const T* row(int r) const { return rows[r]; }
  const T* tail(int r) const { return tails[r]; }
  RowPointers from(int q) const { return {rows + q, tails + q}; }
};

/** Consecutive rows: row r at first + r * stride, its tail `full` values after its start. */
template <class T>
struct RowRange {
  const T* first;
  std::int64_t stride, full;
  const T* row(int r) const { return first + r * stride; }
  const T* tail(int r) const { return first + r * stride + full; }
  RowRange from(int q) const { return {first + q * stride, stride, full}; }
};

/** reduce_lanes() of each of W rows' accumulators, as one vector (lane r: row r), with reduce_lanes()' adds. */
template <class T, class V>
inline V reduce_rows(const V (*acc)[8 / NativeVec<T>::width]) {
  constexpr int W = NativeVec<T>::width;
  if constexpr (W == 4) {
    V s[4];
    for (int r = 0; r < 4; ++r) s[r] = acc[r][0] + acc[r][1];  // (l0+l4, l1+l5, l2+l6, l3+l7) of row r
    // transposed: c_l = (s_0[l], s_1[l], s_2[l], s_3[l]), so that (s[0] + s[2]) + (s[1] + s[3]) runs on all four
    const V t0 = __builtin_shufflevector(s[0], s[1], 0, 4, 2, 6), t1 = __builtin_shufflevector(s[0], s[1], 1, 5, 3, 7);
    const V t2 = __builtin_shufflevector(s[2], s[3], 0, 4, 2, 6), t3 = __builtin_shufflevector(s[2], s[3], 1, 5, 3, 7);
    const V c0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5), c2 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    const V c1 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5), c3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
    return (c0 + c2) + (c1 + c3);
  } else {
    V out;
    for (int r = 0; r < W; ++r) out[r] = reduce_lanes<T>(acc[r]);
    return out;
  }
}

/**
 * dot(a.row(r), x, d) for the W rows of one block (W = NativeVec<T>::width), returned as one vector (lane r: row
 * r), each with dot_vector()'s operations in its order (the same bits), the accumulators in registers throughout.
 * The tail: a.tail(r) points at row r's last d mod W values (whatever follows them is read and discarded), xt at
 * x's, then zeros; its products go to their lanes of accumulator `used` with the other lanes replaced by -0.0,
 * which leaves any sum unchanged (x + -0 is x, also for x = +0 or -0).
 */
template <class T, class Rows>
inline typename NativeVec<T>::type dot_rows_block(const Rows& a, const T* x, const T* xt, const ColumnSplit<T>& cs) {
  using V = typename NativeVec<T>::type;
  constexpr int W = NativeVec<T>::width, nv = 8 / W;
  V acc[W][nv];
  for (int r = 0; r < W; ++r)
    for (int v = 0; v < nv; ++v) acc[r][v] = V{} * T(0);
  std::int64_t j = 0;
  for (; j < cs.d8; j += 8)
    for (int v = 0; v < nv; ++v) {
      const V xv = load_vec(x + j + v * W);
      for (int r = 0; r < W; ++r) acc[r][v] += load_vec(a.row(r) + j + v * W) * xv;
    }
  for (int v = 0; v < nv; ++v) {  // whole vectors after the groups of 8
    if (j + W <= cs.d) {
      const V xv = load_vec(x + j);
      for (int r = 0; r < W; ++r) acc[r][v] += load_vec(a.row(r) + j) * xv;
      j += W;
    }
  }
  if (cs.rest != 0) {
    const V xv = load_vec(xt), neg_zero = -(V{} * T(0));
    for (int r = 0; r < W; ++r) {
      const V t = cs.tail_mask ? load_vec(a.tail(r)) * xv : neg_zero;
      for (int v = 0; v < nv; ++v)
        if (v == cs.used) acc[r][v] += t;
    }
  }
  return reduce_rows<T, V>(acc);
}

/**
 * g[j] += alphas[k] rows.row(k)[j] (then, with Ridge, += beta x[j]) for k = 0, 1, ..., count - 1 in that order,
 * for NV vectors of columns from j0 -- the last one, with Tail, the tail: the columns after the last whole vector,
 * from rows.tail(k), gt and xt (dot_rows_block()) -- axpy()'s operations row after row, so the bits of one
 * axpy() per row, with the columns' sums held in registers across the rows.
 */
template <class T, int NV, bool Tail, bool Ridge, class Rows>
inline void accumulate_columns(const Rows& rows, const T* alphas, int count, const T* x, const T* xt, T beta, T* g,
                               T* gt, std::int64_t j0) {
  using V = typename NativeVec<T>::type;
  constexpr int W = NativeVec<T>::width;
  V acc[NV], xv[NV];
  for (int v = 0; v < NV; ++v) {
    const bool tail = Tail && v == NV - 1;
    acc[v] = load_vec(tail ? gt : g + j0 + v * W);
    xv[v] = Ridge ? load_vec(tail ? xt : x + j0 + v * W) : V{};
  }
  for (int k = 0; k < count; ++k) {
    const T al = alphas[k];
    const T* a = rows.row(k) + j0;
    for (int v = 0; v < NV; ++v) {
      acc[v] = acc[v] + al * load_vec(Tail && v == NV - 1 ? rows.tail(k) : a + v * W);
      if constexpr (Ridge) acc[v] = acc[v] + beta * xv[v];
    }
  }
  for (int v = 0; v < NV; ++v) store_vec(Tail && v == NV - 1 ? gt : g + j0 + v * W, acc[v]);
}

/** accumulate_columns() over every column: blocks of 8 vectors, then one block of the rest with the tail. */
template <class T, bool Ridge, class Rows>
inline void accumulate_rows(const Rows& rows, const T* alphas, int count, const T* x, const T* xt, T beta, T* g, T* gt,
                            const ColumnSplit<T>& cs) {
  constexpr int W = NativeVec<T>::width;
  const bool tail = cs.rest != 0;
  std::int64_t j = 0;
  for (; (cs.full - j) / W + tail > 8; j += 8 * W)
    accumulate_columns<T, 8, false, Ridge>(rows, alphas, count, x, xt, beta, g, gt, j);
  const auto last = [&](auto nv) {
    constexpr int NV = decltype(nv)::value;
    if (tail)
      accumulate_columns<T, NV, true, Ridge>(rows, alphas, count, x, xt, beta, g, gt, j);
    else
      accumulate_columns<T, NV, false, Ridge>(rows, alphas, count, x, xt, beta, g, gt, j);
  };
  switch ((cs.full - j) / W + tail) {  // 0 to 8 vectors left
    case 1: return last(std::integral_constant<int, 1>{});
    case 2: return last(std::integral_constant<int, 2>{});
    case 3: return last(std::integral_constant<int, 3>{});
    case 4: return last(std::integral_constant<int, 4>{});
    case 5: return last(std::integral_constant<int, 5>{});
    case 6: return last(std::integral_constant<int, 6>{});
    case 7: return last(std::integral_constant<int, 7>{});
    case 8: return last(std::integral_constant<int, 8>{});
    default: return;
  }
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
