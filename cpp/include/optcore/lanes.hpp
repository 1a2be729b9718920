/** @file lanes.hpp
 *  Kernels for runs that visit the same component at the same step (incremental orders, shared explicit orders):
 *  their iterates are stored transposed, one native vector per coordinate holding W runs (x^T of shape (D, W)),
 *  so one vector instruction serves W runs.
 *
 *  The arithmetic of each run is exactly that of dot() and axpy() in kernels.hpp -- lane l = j mod 8 partial
 *  sums, the same combination tree, the same products -- so a run gives the same bits whether it went through
 *  these kernels or through the one-run-at-a-time path (the tests check a run alone against the run in a batch).
 */
#pragma once

#include <cstdint>

#include "optcore/config.hpp"
#include "optcore/isa.hpp"
#include "optcore/kernels.hpp"

namespace optcore {
OPTCORE_ISA_BEGIN

#ifdef OPTCORE_VECTOR_EXTENSIONS
#define OPTCORE_HAVE_LANES 1

template <class T>
using LaneVec = typename detail::NativeVec<T>::type;

template <class T>
constexpr int kLaneWidth = detail::NativeVec<T>::width;

/** Per run (vector lane): sum_j a[j] xt[j], with dot()'s eight partial sums and combination tree. */
template <class T, int D>
inline LaneVec<T> lanes_dot(const T* a, const LaneVec<T>* xt) {
  using V = LaneVec<T>;
  V acc[8];
  for (int l = 0; l < 8; ++l) acc[l] = V{} * T(0);
#pragma GCC unroll 64
  for (int j = 0; j < D; ++j) acc[j % 8] += a[j] * xt[j];  // unrolled: the accumulators stay in registers
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

/** Per run: x = (1 - eta l2) x + coef a (the ridge factor only when l2 != 0), as in step(). */
template <class T, int D>
inline void lanes_update(const T* a, LaneVec<T>* xt, LaneVec<T> eta, T l2, LaneVec<T> coef) {
  if (l2 != T(0)) {
    const LaneVec<T> shrink = T(1) - eta * l2;
#pragma GCC unroll 64
    for (int j = 0; j < D; ++j) xt[j] *= shrink;
  }
#pragma GCC unroll 64
  for (int j = 0; j < D; ++j) xt[j] += coef * a[j];
}
#endif

OPTCORE_ISA_END
}  // namespace optcore
