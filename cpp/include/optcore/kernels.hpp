/** @file kernels.hpp
 *  Small dense vector kernels used in the hot loops.
 *
 *  The dot product keeps eight partial sums (lane j mod 8) combined as a fixed balanced tree. Two implementations
 *  compute exactly this -- GCC/Clang vector extensions on the CPU, a plain loop elsewhere (GPU, other compilers) --
 *  so every build and every caller gets the same bits, whatever the vector width the compiler targets.
 */
#pragma once

#include <cstdint>
#include <cstring>

#include "optcore/config.hpp"

#if (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__) && !defined(__CUDACC_RTC__)
#define OPTCORE_VECTOR_EXTENSIONS 1
// 4-vectors of double are AVX-sized: GCC warns that passing them by value would change the ABI without AVX.
// They never cross a function boundary that is not inlined, so the warning does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace optcore {

namespace detail {

/** The reference form of dot(): eight lanes, lane l holds the terms j = l mod 8, then the tree below. */
template <class T>
OPTCORE_HD inline T dot_lanes(const T* a, const T* b, std::int64_t d) {
  T acc[8] = {T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0)};
  for (std::int64_t j = 0; j < d; ++j) acc[j % 8] += a[j] * b[j];
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

#ifdef OPTCORE_VECTOR_EXTENSIONS
#if defined(__AVX__)
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

/** dot_lanes() with the eight lanes held in 8 / width native vectors. */
template <class T>
inline T dot_vector(const T* a, const T* b, std::int64_t d) {
  using V = typename NativeVec<T>::type;
  constexpr int W = NativeVec<T>::width, nv = 8 / W;
  V acc[nv];
  for (int v = 0; v < nv; ++v) acc[v] = V{} * T(0);
  std::int64_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int v = 0; v < nv; ++v) acc[v] += load_vec(a + j + v * W) * load_vec(b + j + v * W);
  T lanes[8];
  for (int v = 0; v < nv; ++v) store_vec(lanes + v * W, acc[v]);
  for (int l = 0; j < d; ++j, ++l) lanes[l] += a[j] * b[j];
  return ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
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

/** 1/2 e' H e for a dense symmetric d x d matrix H (row-major). */
template <class T>
OPTCORE_HD inline T half_quadratic_form(const T* H, const T* e, std::int64_t d) {
  T total = T(0);
  for (std::int64_t i = 0; i < d; ++i) total += e[i] * dot(H + i * d, e, d);
  return T(0.5) * total;
}

}  // namespace optcore
