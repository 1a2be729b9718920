/** @file kernels.hpp
 *  Small dense vector kernels used in the hot loops.
 *
 *  The dot product keeps eight partial sums combined in a fixed order: the compiler may vectorize it (no
 *  reassociation is needed) and every call computes bit for bit the same thing, whatever the caller.
 */
#pragma once

#include <cstdint>

#include "optcore/config.hpp"

namespace optcore {

/** sum_j a[j] * b[j] with 8 interleaved partial sums (lane j mod 8), combined as a balanced tree. */
template <class T>
OPTCORE_HD inline T dot(const T* __restrict a, const T* __restrict b, std::int64_t d) {
  T acc[8] = {T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0)};
  std::int64_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[j + l] * b[j + l];
  for (int l = 0; j < d; ++j, ++l) acc[l] += a[j] * b[j];
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

/** y += alpha * x */
template <class T>
OPTCORE_HD inline void axpy(T alpha, const T* __restrict x, T* __restrict y, std::int64_t d) {
  for (std::int64_t j = 0; j < d; ++j) y[j] += alpha * x[j];
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
