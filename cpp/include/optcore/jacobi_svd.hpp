/** @file jacobi_svd.hpp
 *  Singular values and the polar factor of a small dense matrix by one-sided Jacobi rotations.
 *
 *  The Bures-Wasserstein loss of a deep linear generator needs, at every step, the singular values of an m x c
 *  matrix A (m, c of a few tens) and the partial isometry U_r V_r^T of its r largest singular triplets (the gradient
 *  of the nuclear norm). One-sided Jacobi (Hestenes) orthogonalizes the rows of A by plane rotations applied from
 *  the left: G A = X with orthogonal rows, so A = G^T X, the singular values are the row norms of X and
 *  U_r V_r^T = sum_{i in top r} g_i^T x_i / |x_i| (g_i the rows of G). It computes small singular values to high
 *  relative accuracy, unlike eigenvalues of A A^T, which is what keeps the loss exact at rank-deficient weights
 *  (RELATED.md 2.4: the eigen-square-root form loses ~2e-7 there). The rotation order is fixed (cyclic by rows),
 *  so the result depends on A alone: bitwise reproducible.
 */
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

namespace optcore {

/** Workspace and result of jacobi_polar(). */
template <class T>
struct JacobiPolar {
  std::vector<T> X, G;             ///< rotated rows (m x c) and the accumulated rotation (m x m)
  std::vector<T> s;                ///< singular values, in the order of the rows of X (not sorted)
  std::vector<std::int64_t> order; ///< row indices by decreasing singular value
  int sweeps = 0;                  ///< sweeps the last call took
};

namespace detail {

/** Orthogonalizes the m rows (length c) of X in place, applying the same rotations to the rows of G (m x m). */
template <class T>
int jacobi_orthogonalize_rows(std::int64_t m, std::int64_t c, T* X, T* G, int max_sweeps) {
  // a pair counts as orthogonal when |<x_p, x_q>| <= tol |x_p| |x_q|
  const T tol = std::numeric_limits<T>::epsilon() * std::sqrt(static_cast<T>(c));
  int sweep = 0;
  for (; sweep < max_sweeps; ++sweep) {
    bool rotated = false;
    for (std::int64_t p = 0; p + 1 < m; ++p) {
      for (std::int64_t q = p + 1; q < m; ++q) {
        T* xp = X + p * c;
        T* xq = X + q * c;
        T alpha = 0, beta = 0, gamma = 0;
        for (std::int64_t j = 0; j < c; ++j) {
          alpha += xp[j] * xp[j];
          beta += xq[j] * xq[j];
          gamma += xp[j] * xq[j];
        }
        if (!(alpha > 0) || !(beta > 0) || std::abs(gamma) <= tol * std::sqrt(alpha) * std::sqrt(beta)) continue;
        rotated = true;
        // the rotation that zeroes <x_p, x_q> (Rutishauser's formulas: the smaller angle, stable t)
        const T zeta = (beta - alpha) / (2 * gamma);
        const T t = (zeta >= 0 ? T(1) : T(-1)) / (std::abs(zeta) + std::sqrt(T(1) + zeta * zeta));
        const T cs = T(1) / std::sqrt(T(1) + t * t), sn = cs * t;
        for (std::int64_t j = 0; j < c; ++j) {
          const T a = xp[j], b = xq[j];
          xp[j] = cs * a - sn * b;
          xq[j] = sn * a + cs * b;
        }
        T* gp = G + p * m;
        T* gq = G + q * m;
        for (std::int64_t j = 0; j < m; ++j) {
          const T a = gp[j], b = gq[j];
          gp[j] = cs * a - sn * b;
          gq[j] = sn * a + cs * b;
        }
      }
    }
    if (!rotated) break;
  }
  return sweep;
}

}  // namespace detail

/**
 * Singular values of the m x c row-major matrix A (m <= c) into w.s, and, when Q is not null, the polar part
 * Q = sum over the `keep` largest singular triplets with sigma > 0 of u v^T (m x c, row-major). A triplet whose
 * singular value is below max(m, c) eps sigma_max is numerically zero (its vectors are arbitrary) and is left
 * out whatever `keep` says. Returns the sum of all singular values (the nuclear norm).
 *
 * With `warm`, the rotation G kept in `w` from the previous call starts the iteration (same m). U = G^T is then
 * orthogonal only to the rounding G accumulated since its last cold start, so callers start cold regularly.
 */
template <class T>
T jacobi_polar(std::int64_t m, std::int64_t c, const T* A, std::int64_t keep, T* Q, JacobiPolar<T>& w,
               bool warm = false) {
  if (warm && static_cast<std::int64_t>(w.G.size()) == m * m) {
    // warm start: the rotation of the previous call (a nearby A) almost orthogonalizes this A already, so
    // X = G A needs a sweep or two instead of six to ten; G A = X stays exact whatever G is
    w.X.assign(m * c, T(0));
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t l = 0; l < m; ++l) {
        const T g = w.G[i * m + l];
        const T* a = A + l * c;
        T* x = w.X.data() + i * c;
        for (std::int64_t j = 0; j < c; ++j) x[j] += g * a[j];
      }
  } else {
    w.X.assign(A, A + m * c);
    w.G.assign(m * m, T(0));
    for (std::int64_t i = 0; i < m; ++i) w.G[i * m + i] = T(1);
  }
  w.sweeps = detail::jacobi_orthogonalize_rows(m, c, w.X.data(), w.G.data(), 60);
  w.s.resize(m);
  T nuclear = 0, largest = 0;
  for (std::int64_t i = 0; i < m; ++i) {
    T ss = 0;
    for (std::int64_t j = 0; j < c; ++j) ss += w.X[i * c + j] * w.X[i * c + j];
    w.s[i] = std::sqrt(ss);
    nuclear += w.s[i];
    largest = std::max(largest, w.s[i]);
  }
  if (Q == nullptr) return nuclear;
  w.order.resize(m);
  std::iota(w.order.begin(), w.order.end(), std::int64_t(0));
  std::stable_sort(w.order.begin(), w.order.end(), [&](std::int64_t a, std::int64_t b) { return w.s[a] > w.s[b]; });
  const T cutoff = static_cast<T>(std::max(m, c)) * std::numeric_limits<T>::epsilon() * largest;
  std::fill_n(Q, m * c, T(0));
  for (std::int64_t r = 0; r < std::min(keep, m); ++r) {
    const std::int64_t i = w.order[r];
    if (!(w.s[i] > cutoff)) break;
    const T inv = T(1) / w.s[i];
    const T* g = w.G.data() + i * m;  // u_i = g_i^T, v_i = x_i / s_i
    const T* x = w.X.data() + i * c;
    for (std::int64_t a = 0; a < m; ++a) {
      const T ga = g[a] * inv;
      T* qa = Q + a * c;
      for (std::int64_t j = 0; j < c; ++j) qa[j] += ga * x[j];
    }
  }
  return nuclear;
}

}  // namespace optcore
