/** @file problems.hpp
 *  Finite-sum problems F(x) = (1/n) sum_i f_i(x). Each problem is a view on caller-owned arrays (row-major) and
 *  exposes the operations the engine needs:
 *    - add_grad(i, x, g, s): g += s * grad f_i(x)
 *    - step(i, x, eta, tmp): x -= eta * grad f_i(x), fused in place (the batch-1 hot path); tmp has d entries
 *    - objective(x):         F(x)
 *  All are templates on the floating type T (float or double).
 */
#pragma once

#include <algorithm>
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
    return dphi_from_exp(z, exp_exact_vec<T>(exp_arg(z)));
  }
  /**
   * The stages of dphi_vec() and of phi_vec() for T = double: e = exp_exact_vec(exp_arg(z)), then
   * dphi_from_exp(z, e) and phi_from_exp(z, e) -- one exp for both. batch_pass() runs each stage over several
   * vectors, so that their chains of dependent operations overlap.
   */
  template <class V>
  static V exp_arg(V z) {
    if (Exponential) return -z;
    return z >= T(0) ? -z : z;  // -|z|: neither branch of dphi() overflows
  }
  template <class V>
  static V dphi_from_exp(V z, V e) {
    if (Exponential) return -e;
    return (z >= T(0) ? -e : V{} - T(1)) / (T(1) + e);  // dphi()'s quotient in each lane, one division
  }
  /** phi(z) from e = exp_exact_vec(exp_arg(z)), for T = double: phi_vec()'s operations. */
  template <class V>
  static V phi_from_exp(V z, V e) {
    if (Exponential) return e;  // phi_vec(): exp_exact_vec(-z)
    const V l = log1p_exact_vec(e);  // softplus_neg_exact_vec()'s operations
    return z >= T(0) ? l : -z + l;
  }
  /** phi() on each element of a vector of doubles (the same bits). */
  template <class V>
  static V phi_vec(V z) {
    if (Exponential) return exp_exact_vec<double>(-z);
    return softplus_neg_exact_vec(z);
  }

  /**
   * g += s * sum_k grad f_{offset + idx[k]}(x): a batch's gradient in one sweep over its rows, W at a time (W the
   * vector width): their products m = a'x (each row's dot()), c = phi'(y m) y in one vector, then g += s c_k a_k
   * row after row in batch order while the rows are in L1 -- add_grad()'s arithmetic for each row, so the bits of
   * one add_grad() per row.
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
  /** The per-thread buffers of batch_pass() (the engine's threads each run their own chunk of runs). */
  struct PassScratch {
    std::vector<T> dots;
    std::vector<double> phis;
  };

  // flatten: every kernel and elementary function inlined into the sweep (GCC kept exp_exact_vec() a call per
  // vector, which serialized the blocks' exps)
  __attribute__((flatten)) void batch_pass(const std::uint32_t* idx, std::uint32_t b, std::int64_t offset,
                                           const T* x, T* g, T s, T* objective) const {
    using V = typename detail::NativeVec<T>::type;
    constexpr int W = detail::NativeVec<T>::width;
    thread_local PassScratch scratch;
    PassScratch& sc = scratch;  // one look-up of the thread's copy
    const detail::ColumnSplit<T> cs(d);
    // x's and g's last d mod W values, then zeros (the row-block kernels' tails); g's are written back at the end
    alignas(64) T xt[W], gt[W];
    for (int l = 0; l < W; ++l) {
      xt[l] = l < cs.rest ? x[cs.full + l] : T(0);
      gt[l] = l < cs.rest ? g[cs.full + l] : T(0);
    }
    // For the objective in double, phi comes from the same e^{-|z|} as phi' (objective()'s z = y m is the same
    // double): one exp per component. Summed on the fly when the batch is in index order, else at the end.
    constexpr bool shared_exp = std::is_same_v<T, double>;
    const bool with_phi = shared_exp && objective != nullptr;
    // Consecutive rows (the incremental order's batches) need no per-row pointers; in index order, the objective's
    // sum runs along the sweep.
    std::uint32_t apart = 0;  // nonzero when some idx[k] != idx[0] + k (a branch-free loop, in vectors)
    for (std::uint32_t k = 1; k < b; ++k) apart |= idx[k] ^ (idx[0] + k);
    const bool contiguous = apart == 0;
    const bool in_order = with_phi && contiguous && idx[0] == 0;
    if (with_phi && !in_order) sc.phis.resize(n);
    if (objective && !with_phi) sc.dots.resize(b);
    double total = 0;
    const std::int64_t last_safe = n * d - cs.full - W;  // the last row start whose tail's read stays in A
    // Sweep steps of up to kBlocks blocks of W rows: their products, then their coefficients (the exps of
    // different blocks overlap, where one block's chain of dependent operations would bound the step), then g from
    // the same rows, still in L1.
    constexpr int kBlocks = 8;
    const T* row_ptrs[kBlocks * W];
    const T* tail_ptrs[kBlocks * W];
    alignas(64) T alphas[kBlocks * W], ys[kBlocks * W];
    alignas(64) T row_tails[kBlocks * W][W];
    const auto step = [&](const auto& rows, int blocks, std::uint32_t k, const T* yk) {
      V m[kBlocks];
      for (int q = 0; q < blocks; ++q) m[q] = detail::dot_rows_block<T>(rows.from(q * W), x, xt, cs);
      if (objective && !with_phi)
        for (int q = 0; q < blocks; ++q) detail::store_vec(sc.dots.data() + k + q * W, m[q]);
      // alpha_k = s c_k, c_k = phi'(y m) y: add_grad()'s coefficient of row k
      V z[kBlocks], e[kBlocks];
      for (int q = 0; q < blocks; ++q) z[q] = detail::load_vec(yk + q * W) * m[q];
      for (int q = 0; q < blocks; ++q) e[q] = exp_exact_vec<T>(exp_arg(z[q]));
      for (int q = 0; q < blocks; ++q)
        detail::store_vec(alphas + q * W, s * (dphi_from_exp(z[q], e[q]) * detail::load_vec(yk + q * W)));
      if constexpr (shared_exp) {
        if (with_phi) {
          for (int q = 0; q < blocks; ++q) {
            const V phi_z = phi_from_exp(z[q], e[q]);
            if (in_order)
              for (int l = 0; l < W; ++l) total += phi_z[l];
            else
              for (int l = 0; l < W; ++l) sc.phis[idx[k + q * W + l]] = phi_z[l];
          }
        }
      }
      if (l2 != T(0))
        detail::accumulate_rows<T, true>(rows, alphas, blocks * W, x, xt, s * l2, g, gt, cs);
      else
        detail::accumulate_rows<T, false>(rows, alphas, blocks * W, x, xt, T(0), g, gt, cs);
    };
    std::uint32_t k = 0;
    while (k + W <= b) {
      const int blocks = static_cast<int>(std::min<std::uint32_t>(kBlocks, (b - k) / W));
      const std::int64_t i0 = offset + idx[k];
      if (contiguous && (i0 + blocks * W - 1) * d <= last_safe) {
        step(detail::RowRange<T>{A + i0 * d, d, cs.full}, blocks, k, y + i0);
      } else {
        for (int q = 0; q < blocks * W; ++q) {
          const std::int64_t i = offset + idx[k + q], at = i * d;
          row_ptrs[q] = A + at;
          tail_ptrs[q] = A + at + cs.full;
          ys[q] = y[i];
          if (at > last_safe) {  // the tail's read would leave A (its last rows): a copy
            for (int l = 0; l < W; ++l) row_tails[q][l] = l < cs.rest ? tail_ptrs[q][l] : T(0);
            tail_ptrs[q] = row_tails[q];
          }
        }
        step(detail::RowPointers<T>{row_ptrs, tail_ptrs}, blocks, k, ys);
      }
      k += blocks * W;
    }
    for (int l = 0; l < cs.rest; ++l) g[cs.full + l] = gt[l];
    for (; k < b; ++k) {  // the last b mod W rows: add_grad()'s operations one row at a time
      const std::int64_t i = offset + idx[k];
      const T* a = A + i * d;
      const T yi = y[i], m = dot(a, x, d);
      if (objective && !with_phi) sc.dots[k] = m;
      if (with_phi) {
        const double phi_z = phi(static_cast<double>(yi) * static_cast<double>(m));
        if (in_order)
          total += phi_z;
        else
          sc.phis[idx[k]] = phi_z;
      }
      axpy(s * (dphi(yi * m) * yi), a, g, d);
      if (l2 != T(0)) axpy(s * l2, x, g, d);
    }
    if (!objective) return;
    if (in_order)
      *objective = objective_from_total(total, x);
    else if (with_phi)
      *objective = objective_from_phis(sc.phis.data(), x);
    else
      *objective = objective_from_dots(idx, sc.dots.data(), x);
  }

  /** objective() from phi(y_i a_i'x) of every component i, in index order: the same sum. */
  T objective_from_phis(const double* phis, const T* x) const {
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) total += phis[i];
    return objective_from_total(total, x);
  }

  /** objective() from the sum of phi(y_i a_i'x) over every component, added in index order. */
  T objective_from_total(double total, const T* x) const {
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
