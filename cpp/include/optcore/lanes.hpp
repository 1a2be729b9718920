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
/**
 * Steps row[s0..s1) for C chunks of runs held in lanes (xt[c]: D vectors), all visiting the same components:
 * per lane, x = (1 - eta l2) x + coef a_i with coef = coef_of(i, a_i'x, eta) -- lanes_dot() then lanes_update(),
 * the arithmetic of step() -- with two changes of schedule that leave every bit as it was:
 *   - the update of step s and the dot product of step s + 1 share one pass over the coordinates, so each x_j is
 *     loaded and stored once per step and each broadcast a_i[j] serves all C chunks;
 *   - C independent chunks advance together: one chunk's step is a chain of dependent operations (dot product,
 *     coefficient, update) whose latency, not the arithmetic, would bound the speed.
 * The partial sums and the tree are lanes_dot()'s: partial l sums a[j] x_j over j = l, l + 8, ... in increasing
 * j, and they are combined as ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7)).
 */
// An empty asm that takes a vector register in and out: the compiler must compute the value at this point of the
// instruction stream. It emits no instruction.
#if defined(__x86_64__) || defined(__i386__)
#define OPTCORE_PIN_REGISTER(v) asm volatile("" : "+x"(v))
#elif defined(__aarch64__)
#define OPTCORE_PIN_REGISTER(v) asm volatile("" : "+w"(v))
#else
#define OPTCORE_PIN_REGISTER(v) ((void)0)
#endif

template <class T, int D, int C, bool Ridge, class CoefOf>
inline void lanes_steps_impl(const T* A, const std::uint32_t* row, std::int64_t s0, std::int64_t s1,
                             LaneVec<T> (*xt)[D], const LaneVec<T>* eta, T l2, CoefOf coef_of) {
  using V = LaneVec<T>;
  V shrink[C], z[C];
  for (int c = 0; c < C; ++c) shrink[c] = T(1) - eta[c] * l2;
  for (int c = 0; c < C; ++c) z[c] = lanes_dot<T, D>(A + static_cast<std::int64_t>(row[s0]) * D, xt[c]);
  for (std::int64_t s = s0;; ++s) {
    const std::int64_t i = row[s];
    const T* a = A + i * D;
    V coef[C];
    for (int c = 0; c < C; ++c) coef[c] = coef_of(i, z[c], eta[c]);
    if (s + 1 == s1) {
      for (int c = 0; c < C; ++c) lanes_update<T, D>(a, xt[c], eta[c], l2, coef[c]);
      return;
    }
    const T* next = A + static_cast<std::int64_t>(row[s + 1]) * D;
    V p[8][C];
#pragma GCC unroll 8
    for (int l = 0; l < 8; ++l) {
      for (int c = 0; c < C; ++c) p[l][c] = V{} * T(0);
#pragma GCC unroll 8
      for (int j = l; j < D; j += 8) {
        const T aj = a[j], next_j = next[j];
        for (int c = 0; c < C; ++c) {
          V x = xt[c][j];
          if (Ridge) x *= shrink[c];
          x += coef[c] * aj;
          xt[c][j] = x;
          p[l][c] += next_j * x;
          // Pins this order: left alone, GCC does every update first and spills the new x_j to the stack for the
          // dot products, which costs about 1.6x in speed.
          OPTCORE_PIN_REGISTER(p[l][c]);
        }
      }
    }
    for (int c = 0; c < C; ++c)
      z[c] = ((p[0][c] + p[4][c]) + (p[2][c] + p[6][c])) + ((p[1][c] + p[5][c]) + (p[3][c] + p[7][c]));
  }
}

/** lanes_steps_impl() with the ridge factor compiled in only when l2 != 0. */
template <class T, int D, int C, class CoefOf>
inline void lanes_steps(const T* A, const std::uint32_t* row, std::int64_t s0, std::int64_t s1, LaneVec<T> (*xt)[D],
                        const LaneVec<T>* eta, T l2, CoefOf coef_of) {
  if (s0 >= s1) return;
  if (l2 != T(0))
    lanes_steps_impl<T, D, C, true>(A, row, s0, s1, xt, eta, l2, coef_of);
  else
    lanes_steps_impl<T, D, C, false>(A, row, s0, s1, xt, eta, l2, coef_of);
}
#endif

OPTCORE_ISA_END
}  // namespace optcore
