/** @file problems.hpp
 *  Finite-sum problems F(x) = (1/n) sum_i f_i(x). Each problem is a view on caller-owned arrays (row-major) and
 *  exposes the operations the engine needs:
 *    - add_grad(i, x, g, s): g += s * grad f_i(x)
 *    - step(i, x, eta, tmp): x -= eta * grad f_i(x), fused in place (the batch-1 hot path); tmp has d entries
 *    - objective(x):         F(x)
 *  All are templates on the floating type T (float or double).
 */
#pragma once

#include <cmath>
#include <cstdint>
#ifndef __CUDACC_RTC__
#include <type_traits>
#include <vector>
#endif

#include "optcore/config.hpp"
#include "optcore/elementary.hpp"
#include "optcore/isa.hpp"
#include "optcore/kernels.hpp"
#include "optcore/lanes.hpp"

namespace optcore {
OPTCORE_ISA_BEGIN

/** f_i(x) = 1/2 (a_i'x - b_i)^2 + l2/2 |x|^2 */
template <class T>
struct LeastSquares {
  const T* A;  ///< (n, d)
  const T* b;  ///< (n,)
  std::int64_t n, d;
  T l2;

  OPTCORE_HD void add_grad(std::int64_t i, const T* x, T* g, T s) const {
    const T* a = A + i * d;
    const T r = dot(a, x, d) - b[i];
    axpy(s * r, a, g, d);
    if (l2 != T(0)) axpy(s * l2, x, g, d);
  }
  static constexpr bool kFixedDimKernels = true;  ///< step_d<D> exists: the engine may use compile-time d

  /** step() with the dimension fixed at compile time when D > 0 (the loops then unroll completely). */
  template <int D>
  OPTCORE_HD void step_d(std::int64_t i, T* x, T eta) const {
    const std::int64_t dd = D > 0 ? D : d;
    const T* a = A + i * dd;
    const T coef = step_coef(i, dot(a, x, dd), eta);
    if (l2 != T(0)) scale(T(1) - eta * l2, x, dd);  // both terms use the old x: (1 - eta l2) x - eta r a
    axpy(coef, a, x, dd);
  }
  OPTCORE_HD void step(std::int64_t i, T* x, T eta, T* /*tmp*/) const { step_d<0>(i, x, eta); }
  /** The coefficient -eta r_i of a_i in a step, from z = a_i'x (step_d(), the interleaved kernels). */
  OPTCORE_HD T step_coef(std::int64_t i, T z, T eta) const { return -eta * (z - b[i]); }

#ifdef OPTCORE_HAVE_LANES
  /** step_d()'s coefficient -eta r_i of a_i, per lane, from z = a_i'x (lanes_steps() in lanes.hpp). */
  LaneVec<T> lanes_coef(std::int64_t i, LaneVec<T> z, LaneVec<T> eta) const { return -eta * (z - b[i]); }
#endif
  OPTCORE_HD T objective(const T* x) const {
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double r = static_cast<double>(dot(A + i * d, x, d)) - b[i];
      total += 0.5 * r * r;
    }
    return static_cast<T>(total / n + 0.5 * l2 * static_cast<double>(dot(x, x, d)));
  }
};

/** Margin losses on labelled data: f_i(x) = phi(y_i a_i'x) + l2/2 |x|^2, phi logistic or exponential. */
template <class T, bool Exponential>
struct MarginLoss {
  const T* A;  ///< (n, d)
  const T* y;  ///< (n,) labels in {-1, +1}
  std::int64_t n, d;
  T l2;

  /**
   * phi'(z) for phi(z) = log(1 + e^{-z}) or e^{-z}, with exp_exact() (elementary.hpp): the same bits in every
   * compiled copy and in dphi_vec().
   */
  OPTCORE_HD static T dphi(T z) {
    if (Exponential) return -exp_exact(-z);
    // -1/(1 + e^z), written so that neither branch overflows: e = e^{-|z|}
    const T e = exp_exact(z >= T(0) ? -z : z);
    return z >= T(0) ? -e / (T(1) + e) : T(-1) / (T(1) + e);
  }
  /** phi(z) in double, with exp_exact() and log1p_exact(); the same bits as phi_vec(). */
  OPTCORE_HD static double phi(double z) {
    if (Exponential) return exp_exact(-z);
    return softplus_neg_exact(z);
  }
#ifdef OPTCORE_VECTOR_EXTENSIONS
  /** dphi() on each element of a vector of T (the same bits). */
  template <class V>
  static V dphi_vec(V z) {
    if (Exponential) return -exp_exact_vec<T>(-z);
    const auto nonneg = z >= T(0);
    const V e = exp_exact_vec<T>(nonneg ? -z : z);
    return nonneg ? -e / (T(1) + e) : T(-1) / (T(1) + e);
  }
  /** phi() on each element of a vector of doubles (the same bits). */
  template <class V>
  static V phi_vec(V z) {
    if (Exponential) return exp_exact_vec<double>(-z);
    return softplus_neg_exact_vec(z);
  }

  /**
   * g += s * sum_k grad f_{offset + idx[k]}(x): a batch's gradient as two passes over its rows, m = Z x (each
   * row's dot()), c = phi'(y m) y for the whole batch in vectors, then g += s c_k a_k (and s l2 x) row by row in
   * batch order -- add_grad()'s arithmetic for each row, so the bits of one add_grad() per row.
   */
  void add_grad_batch(const std::uint32_t* idx, std::uint32_t b, std::int64_t offset, const T* x, T* g, T s) const {
    batch_pass(idx, b, offset, x, g, s, nullptr);
  }
  /** The objective comes out of a full batch's gradient pass with objective()'s bits (engine.hpp). */
  bool batch_objective_matches() const { return true; }
  /**
   * add_grad_batch() of a full batch (every component once, in any order) that also sets *objective = objective(x)
   * from the same products a_i'x, with objective()'s bits. Returns false, doing nothing, for any other batch.
   */
  bool add_grad_batch_objective(const std::uint32_t* idx, std::uint32_t b, const T* x, T* g, T s,
                                T* objective) const {
    if (static_cast<std::int64_t>(b) != n) return false;
    batch_pass(idx, b, 0, x, g, s, objective);
    return true;
  }

 private:
  void batch_pass(const std::uint32_t* idx, std::uint32_t b, std::int64_t offset, const T* x, T* g, T s,
                  T* objective) const {
    using V = typename detail::NativeVec<T>::type;
    constexpr int W = detail::NativeVec<T>::width;
    thread_local std::vector<T> dots, alphas;  // per thread: the engine's threads each run their own chunk
    thread_local std::vector<const T*> rows;
    thread_local std::vector<double> phis;
    dots.resize(b);
    alphas.resize(b);
    rows.resize(b);
    for (std::uint32_t k = 0; k < b; ++k) rows[k] = A + (offset + idx[k]) * d;
    // m = Z x: each row's dot(), four rows at a time
    std::uint32_t k = 0;
    for (; k + 4 <= b; k += 4) detail::dot_vector_rows<T, 4>(rows.data() + k, x, d, dots.data() + k);
    for (; k < b; ++k) dots[k] = dot(rows[k], x, d);
    // alpha_k = s c_k, c_k = phi'(y m) y: add_grad()'s coefficient of row k. For the objective in double, phi
    // comes from the same e^{-|z|} as phi' (objective()'s z = y m is the same double): one exp per component.
    constexpr bool shared_exp = std::is_same_v<T, double>;
    const bool with_phi = shared_exp && objective != nullptr;
    if (with_phi) phis.resize(n);
    for (k = 0; k + W <= b; k += W) {
      V yv, m;
      for (int l = 0; l < W; ++l) yv[l] = y[offset + idx[k + l]], m[l] = dots[k + l];
      V c;
      bool done = false;
      if constexpr (shared_exp) {
        if (with_phi) {
          V phi_z;
          c = dphi_phi_vec(yv * m, phi_z) * yv;
          for (int l = 0; l < W; ++l) phis[idx[k + l]] = phi_z[l];
          done = true;
        }
      }
      if (!done) c = dphi_vec(yv * m) * yv;
      const V alpha = s * c;
      std::memcpy(&alphas[k], &alpha, sizeof(alpha));
    }
    for (; k < b; ++k) {
      const T yi = y[offset + idx[k]];
      alphas[k] = s * (dphi(yi * dots[k]) * yi);
      if (with_phi) phis[idx[k]] = phi(static_cast<double>(yi) * static_cast<double>(dots[k]));
    }
    // g += alpha_k a_k (+ s l2 x) row after row: axpy()'s bits, the columns' sums in registers
    if (l2 != T(0))
      detail::accumulate_rows<T, true>(rows.data(), alphas.data(), b, x, s * l2, g, d);
    else
      detail::accumulate_rows<T, false>(rows.data(), alphas.data(), b, x, T(0), g, d);
    if (!objective) return;
    if (with_phi)
      *objective = objective_from_phis(phis.data(), x);
    else
      *objective = objective_from_dots(idx, dots.data(), x);
  }

  /** dphi_vec(z), and phi_vec(z) in *phi, from one exp: the bits of each (for T = double, z already in double). */
  template <class V>
  static V dphi_phi_vec(V z, V& phi_z) {
    if (Exponential) {
      const V e = exp_exact_vec<T>(-z);
      phi_z = e;  // phi_vec(): exp_exact_vec(-z)
      return -e;
    }
    const auto nonneg = z >= T(0);
    const V e = exp_exact_vec<T>(nonneg ? -z : z);
    const V l = log1p_exact_vec(e);  // softplus_neg_exact_vec()'s operations
    phi_z = nonneg ? l : -z + l;
    return nonneg ? -e / (T(1) + e) : T(-1) / (T(1) + e);
  }

  /** objective() from phi(y_i a_i'x) of every component i, in index order: the same sum. */
  T objective_from_phis(const double* phis, const T* x) const {
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) total += phis[i];
    return static_cast<T>(total / n + 0.5 * l2 * static_cast<double>(dot(x, x, d)));
  }

  /** objective(x) from a_i'x of every component, dots[k] for component idx[k]: the same sum, in index order. */
  T objective_from_dots(const std::uint32_t* idx, const T* dots, const T* x) const {
    using VD = typename detail::NativeVec<double>::type;
    constexpr int W = detail::NativeVec<double>::width;
    thread_local std::vector<double> phis;
    phis.resize(n);
    std::int64_t k = 0;
    for (; k + W <= n; k += W) {
      VD z;
      for (int l = 0; l < W; ++l) z[l] = static_cast<double>(y[idx[k + l]]) * static_cast<double>(dots[k + l]);
      const VD v = phi_vec(z);
      for (int l = 0; l < W; ++l) phis[idx[k + l]] = v[l];
    }
    for (; k < n; ++k) phis[idx[k]] = phi(static_cast<double>(y[idx[k]]) * static_cast<double>(dots[k]));
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) total += phis[i];
    return static_cast<T>(total / n + 0.5 * l2 * static_cast<double>(dot(x, x, d)));
  }

 public:
#endif
  OPTCORE_HD void add_grad(std::int64_t i, const T* x, T* g, T s) const {
    const T* a = A + i * d;
    const T c = dphi(y[i] * dot(a, x, d)) * y[i];
    axpy(s * c, a, g, d);
    if (l2 != T(0)) axpy(s * l2, x, g, d);
  }
  static constexpr bool kFixedDimKernels = true;  ///< step_d<D> exists: the engine may use compile-time d

  /** step() with the dimension fixed at compile time when D > 0. */
  template <int D>
  OPTCORE_HD void step_d(std::int64_t i, T* x, T eta) const {
    const std::int64_t dd = D > 0 ? D : d;
    const T* a = A + i * dd;
    const T coef = step_coef(i, dot(a, x, dd), eta);
    if (l2 != T(0)) scale(T(1) - eta * l2, x, dd);
    axpy(coef, a, x, dd);
  }
  OPTCORE_HD void step(std::int64_t i, T* x, T eta, T* /*tmp*/) const { step_d<0>(i, x, eta); }
  /** The coefficient -eta phi'(y_i z) y_i of a_i in a step, from z = a_i'x (step_d(), the interleaved kernels). */
  OPTCORE_HD T step_coef(std::int64_t i, T z, T eta) const { return -eta * (dphi(y[i] * z) * y[i]); }

#ifdef OPTCORE_HAVE_LANES
  /** step_d()'s coefficient -eta c_i of a_i, per lane, from z = a_i'x (lanes_steps() in lanes.hpp). */
  LaneVec<T> lanes_coef(std::int64_t i, LaneVec<T> z, LaneVec<T> eta) const {
    return -eta * (dphi_vec(y[i] * z) * y[i]);  // dphi()'s bits in every lane
  }
#endif
  OPTCORE_HD T objective(const T* x) const {
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) total += phi(static_cast<double>(y[i]) * dot(A + i * d, x, d));
    return static_cast<T>(total / n + 0.5 * l2 * static_cast<double>(dot(x, x, d)));
  }
};

template <class T>
using Logistic = MarginLoss<T, false>;
template <class T>
using Exponential = MarginLoss<T, true>;

/**
 * Generalized linear losses f_i(x) = loss(a_i'x; c_i) + l2/2 |x|^2, c_i the component's target or label. `Loss`
 * gives loss'(z; c) -- the coefficient of a_i in the gradient -- as coef(z, c, param) in T, and loss(z; c) in
 * double as value(z, c, param); `param` is the loss's one constant (Huber's delta; the others ignore it).
 */
template <class T, class Loss>
struct LinearLoss {
  const T* A;  ///< (n, d)
  const T* c;  ///< (n,) targets or labels
  std::int64_t n, d;
  T l2;
  T param;  ///< Huber: delta

  OPTCORE_HD void add_grad(std::int64_t i, const T* x, T* g, T s) const {
    const T* a = A + i * d;
    axpy(s * Loss::coef(dot(a, x, d), c[i], param), a, g, d);
    if (l2 != T(0)) axpy(s * l2, x, g, d);
  }
  static constexpr bool kFixedDimKernels = true;  ///< step_d<D> exists: the engine may use compile-time d

  /** step() with the dimension fixed at compile time when D > 0. */
  template <int D>
  OPTCORE_HD void step_d(std::int64_t i, T* x, T eta) const {
    const std::int64_t dd = D > 0 ? D : d;
    const T* a = A + i * dd;
    const T coef = step_coef(i, dot(a, x, dd), eta);
    if (l2 != T(0)) scale(T(1) - eta * l2, x, dd);
    axpy(coef, a, x, dd);
  }
  OPTCORE_HD void step(std::int64_t i, T* x, T eta, T* /*tmp*/) const { step_d<0>(i, x, eta); }
  /** The coefficient -eta loss'(z; c_i) of a_i in a step, from z = a_i'x (step_d(), the interleaved kernels). */
  OPTCORE_HD T step_coef(std::int64_t i, T z, T eta) const { return -eta * Loss::coef(z, c[i], param); }

#ifdef OPTCORE_HAVE_LANES
  /** step_d()'s coefficient -eta loss'(z; c_i) of a_i, per lane, from z = a_i'x (lanes_steps() in lanes.hpp). */
  LaneVec<T> lanes_coef(std::int64_t i, LaneVec<T> z, LaneVec<T> eta) const {
    LaneVec<T> coef = z;
    for (int l = 0; l < kLaneWidth<T>; ++l) coef[l] = Loss::coef(z[l], c[i], param);  // the scalar's bits
    return -eta * coef;
  }
#endif
  OPTCORE_HD T objective(const T* x) const {
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i)
      total += Loss::value(static_cast<double>(dot(A + i * d, x, d)), static_cast<double>(c[i]), param);
    return static_cast<T>(total / n + 0.5 * l2 * static_cast<double>(dot(x, x, d)));
  }
};

/** Huber's loss of the residual r = z - b: r^2/2 for |r| <= delta, delta (|r| - delta/2) beyond. */
struct HuberLoss {
  template <class T>
  OPTCORE_HD static T coef(T z, T b, T delta) {
    const T r = z - b;
    return r > delta ? delta : (r < -delta ? -delta : r);
  }
  OPTCORE_HD static double value(double z, double b, double delta) {
    const double r = z >= b ? z - b : b - z;
    return r <= delta ? 0.5 * r * r : delta * (r - 0.5 * delta);
  }
};

/** The squared hinge loss of the margin y z: max(0, 1 - y z)^2 / 2, labels y in {-1, +1}. */
struct SquaredHingeLoss {
  template <class T>
  OPTCORE_HD static T coef(T z, T y, T /*param*/) {
    const T m = T(1) - y * z;
    return m > T(0) ? -y * m : T(0);
  }
  OPTCORE_HD static double value(double z, double y, double /*param*/) {
    const double m = 1.0 - y * z;
    return m > 0.0 ? 0.5 * m * m : 0.0;
  }
};

/** Poisson regression's loss with the log link: exp(z) - y z, counts y >= 0. */
struct PoissonLoss {
  template <class T>
  OPTCORE_HD static T coef(T z, T y, T /*param*/) {
    return std::exp(z) - y;
  }
  OPTCORE_HD static double value(double z, double y, double /*param*/) { return std::exp(z) - y * z; }
};

template <class T>
using HuberRegression = LinearLoss<T, HuberLoss>;
template <class T>
using SquaredHinge = LinearLoss<T, SquaredHingeLoss>;
template <class T>
using PoissonRegression = LinearLoss<T, PoissonLoss>;

/** f_i(x) = 1/2 x'A_i x - b_i'x with symmetric A_i. */
template <class T>
struct Quadratic {
  static constexpr bool kFixedDimKernels = false;
  const T* As;  ///< (n, d, d)
  const T* bs;  ///< (n, d)
  std::int64_t n, d;

  OPTCORE_HD void add_grad(std::int64_t i, const T* x, T* g, T s) const {
    const T* Ai = As + i * d * d;
    const T* bi = bs + i * d;
    for (std::int64_t r = 0; r < d; ++r) g[r] += s * (dot(Ai + r * d, x, d) - bi[r]);
  }
  OPTCORE_HD void step(std::int64_t i, T* x, T eta, T* tmp) const {
    for (std::int64_t r = 0; r < d; ++r) tmp[r] = T(0);
    add_grad(i, x, tmp, T(1));
    axpy(-eta, tmp, x, d);
  }
  OPTCORE_HD T objective(const T* x) const {
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const T* Ai = As + i * d * d;
      double q = 0;
      for (std::int64_t r = 0; r < d; ++r) q += static_cast<double>(x[r]) * dot(Ai + r * d, x, d);
      total += 0.5 * q - static_cast<double>(dot(bs + i * d, x, d));
    }
    return static_cast<T>(total / n);
  }
};

/**
 * The 1-D lower-bound function of Yun, Rajput and Sra (ICLR 2022):
 * f_i(x) = (L 1[x <= 0] + mu 1[x > 0]) x^2 / 2 + z_i nu x, z_i in {-1, +1}.
 */
template <class T>
struct LowerBound1D {
  static constexpr bool kFixedDimKernels = false;
  const T* z;  ///< (n,)
  std::int64_t n;
  T L, mu, nu;
  T z_mean;  ///< (1/n) sum z_i, for the O(1) objective
  static constexpr std::int64_t d = 1;

  OPTCORE_HD T curvature(T x) const { return x <= T(0) ? L : mu; }
  OPTCORE_HD void add_grad(std::int64_t i, const T* x, T* g, T s) const {
    g[0] += s * (curvature(x[0]) * x[0] + z[i] * nu);
  }
  OPTCORE_HD void step(std::int64_t i, T* x, T eta, T* /*tmp*/) const {
    x[0] -= eta * (curvature(x[0]) * x[0] + z[i] * nu);
  }
  OPTCORE_HD T objective(const T* x) const { return curvature(x[0]) * x[0] * x[0] / T(2) + z_mean * nu * x[0]; }
};

OPTCORE_ISA_END
}  // namespace optcore
