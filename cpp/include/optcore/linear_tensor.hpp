/** @file linear_tensor.hpp
 *  Full-batch gradient descent on linear tensor networks (THEORY.md 3.2): many runs per call.
 *
 *  Every network computes a linear predictor f(x) = <x, beta(theta)>; the kinds differ in how beta depends on the
 *  parameters theta of one run (flat, layer after layer):
 *    - fully_connected (depth L, hidden width h): theta = W_1 (d x h), W_2..W_{L-1} (h x h), w_L (h), all row-major;
 *      beta = W_1 W_2 ... W_{L-1} w_L. Depth 1 is the plain linear model (theta = beta).
 *    - diagonal (depth L): theta = v_1..v_L in R^d; beta = v_1 * ... * v_L coordinatewise.
 *    - convolutional (depth L, full-length circular filters): theta = w_1..w_L in R^d;
 *      beta = w_1 (*) ... (*) w_L with (a (*) b)_i = sum_j a_j b_{(i - j) mod d}.
 *    - odeco (depth L, S in R^{m x d}, U_l in R^{k x m}): theta = v_1..v_L in R^k; z_l = U_l^T v_l,
 *      rho = z_1 * ... * z_L (coordinatewise), beta = S^T rho.
 *    - hadamard (a reparametrized linear model; F = depth factor vectors, grouped into terms): theta = v_1..v_F in
 *      R^d; beta = sum_t c_t prod_{f in term t} v_f^{p_f}, all products and integer powers p_f >= 1 coordinatewise.
 *      w*w - u*u (Woodworth's diagonal net) is two terms of one factor each (c = +1, -1; p = 2); adding lambda v
 *      is a third term (c = lambda, p = 1).
 *  Losses, averaged over the n examples: exponential exp(-y f), logistic log(1 + exp(-y f)), squared (f - y)^2 / 2.
 *
 *  One step is theta <- theta - eta_r * grad L(theta), all layers from the same theta; with per-parameter step sizes
 *  (TensorNetRuns::step_params, how Python gives each block of parameters its own step size) it is
 *  theta_p <- theta_p - eta_{r,p} * grad_p. The arithmetic of a run does not depend on the other runs or on the
 *  thread count, so results are bitwise reproducible.
 */
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "optcore/config.hpp"
#include "optcore/engine.hpp"
#include "optcore/stop.hpp"

namespace optcore {

/** The network families of linear_tensor_gd. */
enum class TensorNetKind : int { fully_connected = 0, diagonal = 1, convolutional = 2, odeco = 3, hadamard = 4 };

/** The losses of linear_tensor_gd. */
enum class TensorLossKind : int { exponential = 0, logistic = 1, squared = 2 };

/** Shared data and options of one call: the network, the data set, the schedule. */
template <class T>
struct TensorNetSpec {
  TensorNetKind kind = TensorNetKind::diagonal;
  TensorLossKind loss = TensorLossKind::squared;
  std::int64_t depth = 2;     ///< L >= 1
  std::int64_t dim = 1;       ///< d, input dimension
  std::int64_t width = 0;     ///< h, hidden width (fully_connected only)
  std::int64_t rank = 0;      ///< m, columns of S^T and of U_l (odeco only)
  std::int64_t factor = 0;    ///< k, rows of U_l (odeco only)
  std::int64_t n = 0;         ///< examples
  const T* X = nullptr;       ///< (n, d) row-major
  const T* y = nullptr;       ///< (n,) labels or targets
  const T* S = nullptr;       ///< (m, d) (odeco only)
  const T* U = nullptr;       ///< (L, k, m) (odeco only)
  std::int64_t terms = 0;                 ///< number of terms (hadamard only)
  const std::int64_t* factor_term = nullptr;   ///< (F,) term of each factor, non-decreasing (hadamard only)
  const std::int64_t* factor_power = nullptr;  ///< (F,) power p_f in [1, 64] of each factor (hadamard only)
  const T* term_coef = nullptr;           ///< (terms,) coefficient c_t of each term (hadamard only)
  std::int64_t steps = 0;     ///< gradient steps per run
  const std::int64_t* record_at = nullptr;  ///< strictly increasing step counts in [0, steps]
  std::int64_t records = 0;   ///< length of record_at
  int threads = 1;
  StopToken* stop = nullptr;  ///< checked every step: a stop request ends the call (stop.hpp)

  /** Parameters per run. */
  std::int64_t params() const {
    switch (kind) {
      case TensorNetKind::fully_connected:
        return depth == 1 ? dim : dim * width + (depth - 2) * width * width + width;
      case TensorNetKind::odeco:
        return depth * factor;
      default:
        return depth * dim;
    }
  }
};

/** Per-run arrays: parameters (updated in place), step sizes and the recording buffers. */
template <class T>
struct TensorNetRuns {
  std::int64_t runs = 0;
  T* theta = nullptr;            ///< (R, P) initial parameters in, final parameters out
  const T* step = nullptr;       ///< (R,) step sizes
  const T* step_params = nullptr;  ///< optional (R, P) per-parameter step sizes; replaces step when given
  T* beta = nullptr;             ///< (R, records, d) end-to-end predictor at each recorded step
  T* loss = nullptr;             ///< (R, records) average loss at each recorded step
  std::int64_t* diverged = nullptr;  ///< (R,) first step whose loss was not finite, -1 if none
};

namespace detail {

/** Loss value and derivative with respect to the output f. */
template <class T>
inline void tensor_loss(TensorLossKind kind, T f, T y, T& value, T& slope) {
  if (kind == TensorLossKind::squared) {
    const T r = f - y;
    value = T(0.5) * r * r;
    slope = r;
  } else if (kind == TensorLossKind::exponential) {
    const T e = std::exp(-y * f);
    value = e;
    slope = -y * e;
  } else {
    // log(1 + e^{-m}) and its derivative without overflow for either sign of the margin m
    const T m = y * f;
    if (m > 0) {
      const T e = std::exp(-m);
      value = std::log1p(e);
      slope = -y * e / (T(1) + e);
    } else {
      const T e = std::exp(m);
      value = -m + std::log1p(e);
      slope = -y / (T(1) + e);
    }
  }
}

/** c = a (*) b, circular convolution of length d. */
template <class T>
inline void circular_conv(const T* a, const T* b, T* c, std::int64_t d) {
  for (std::int64_t i = 0; i < d; ++i) {
    T s = 0;
    for (std::int64_t j = 0; j <= i; ++j) s += a[j] * b[i - j];
    for (std::int64_t j = i + 1; j < d; ++j) s += a[j] * b[i - j + d];
    c[i] = s;
  }
}

/** One run's workspace and step, for any network kind. */
template <class T>
class TensorNetStepper {
 public:
  explicit TensorNetStepper(const TensorNetSpec<T>& s) : s_(s) {
    const std::int64_t d = s.dim, L = s.depth;
    P_ = s.params();
    grad_.assign(P_, T(0));
    beta_.assign(d, T(0));
    g_.assign(d, T(0));
    switch (s.kind) {
      case TensorNetKind::fully_connected:
        right_.assign((L + 1) * std::max(d, s.width), T(0));
        left_.assign((L + 1) * std::max(d, s.width), T(0));
        break;
      case TensorNetKind::hadamard:
        // left_: v_f^{p_f}; right_: p_f v_f^{p_f - 1}; tmp_: one term's product
        left_.assign(L * d, T(0));
        right_.assign(L * d, T(0));
        tmp_.assign(d, T(0));
        break;
      case TensorNetKind::diagonal:
      case TensorNetKind::convolutional:
        left_.assign((L + 1) * d, T(0));
        right_.assign((L + 1) * d, T(0));
        tmp_.assign(d, T(0));
        break;
      case TensorNetKind::odeco:
        z_.assign(L * s.rank, T(0));
        left_.assign((L + 1) * s.rank, T(0));
        right_.assign((L + 1) * s.rank, T(0));
        tmp_.assign(s.rank, T(0));
        break;
    }
  }

  std::int64_t params() const { return P_; }
  const T* beta() const { return beta_.data(); }

  /** beta(theta) into beta(); keeps the partial products the gradient needs. Returns the average loss. */
  T forward(const T* theta) {
    const std::int64_t d = s_.dim, L = s_.depth;
    switch (s_.kind) {
      case TensorNetKind::fully_connected: fc_forward(theta); break;
      case TensorNetKind::hadamard: hadamard_forward(theta); break;
      case TensorNetKind::diagonal: {
        // left_[l] = v_1 * ... * v_l (left_[0] = 1), right_[l] = v_{l+1} * ... * v_L (right_[L] = 1)
        std::fill_n(left_.data(), d, T(1));
        for (std::int64_t l = 0; l < L; ++l)
          for (std::int64_t i = 0; i < d; ++i) left_[(l + 1) * d + i] = left_[l * d + i] * theta[l * d + i];
        std::fill_n(right_.data() + L * d, d, T(1));
        for (std::int64_t l = L - 1; l >= 0; --l)
          for (std::int64_t i = 0; i < d; ++i) right_[l * d + i] = right_[(l + 1) * d + i] * theta[l * d + i];
        std::copy_n(left_.data() + L * d, d, beta_.data());
        break;
      }
      case TensorNetKind::convolutional: {
        // left_[l] = w_1 (*) ... (*) w_l (left_[0] = delta), right_[l] = w_{l+1} (*) ... (*) w_L
        std::fill_n(left_.data(), d, T(0));
        left_[0] = T(1);
        for (std::int64_t l = 0; l < L; ++l) circular_conv(left_.data() + l * d, theta + l * d, left_.data() + (l + 1) * d, d);
        std::fill_n(right_.data() + L * d, d, T(0));
        right_[L * d] = T(1);
        for (std::int64_t l = L - 1; l >= 0; --l) circular_conv(theta + l * d, right_.data() + (l + 1) * d, right_.data() + l * d, d);
        std::copy_n(left_.data() + L * d, d, beta_.data());
        break;
      }
      case TensorNetKind::odeco: {
        const std::int64_t m = s_.rank, k = s_.factor;
        for (std::int64_t l = 0; l < L; ++l) {
          const T* Ul = s_.U + l * k * m;
          T* zl = z_.data() + l * m;
          std::fill_n(zl, m, T(0));
          for (std::int64_t a = 0; a < k; ++a) {
            const T va = theta[l * k + a];
            for (std::int64_t j = 0; j < m; ++j) zl[j] += Ul[a * m + j] * va;
          }
        }
        std::fill_n(left_.data(), m, T(1));
        for (std::int64_t l = 0; l < L; ++l)
          for (std::int64_t j = 0; j < m; ++j) left_[(l + 1) * m + j] = left_[l * m + j] * z_[l * m + j];
        std::fill_n(right_.data() + L * m, m, T(1));
        for (std::int64_t l = L - 1; l >= 0; --l)
          for (std::int64_t j = 0; j < m; ++j) right_[l * m + j] = right_[(l + 1) * m + j] * z_[l * m + j];
        const T* rho = left_.data() + L * m;
        std::fill(beta_.begin(), beta_.end(), T(0));
        for (std::int64_t j = 0; j < m; ++j)
          for (std::int64_t i = 0; i < d; ++i) beta_[i] += s_.S[j * d + i] * rho[j];
        break;
      }
    }
    // outputs, loss and g = dLoss/dbeta = X^T loss'(f) / n
    T total = 0;
    std::fill(g_.begin(), g_.end(), T(0));
    const T inv_n = T(1) / static_cast<T>(s_.n);
    for (std::int64_t e = 0; e < s_.n; ++e) {
      const T* x = s_.X + e * d;
      T f = 0;
      for (std::int64_t i = 0; i < d; ++i) f += x[i] * beta_[i];
      T value, slope;
      tensor_loss(s_.loss, f, s_.y[e], value, slope);
      total += value;
      slope *= inv_n;
      for (std::int64_t i = 0; i < d; ++i) g_[i] += slope * x[i];
    }
    return total * inv_n;
  }

  /** The gradient at the theta of the last forward() into grad(). */
  const T* gradient(const T* theta) {
    const std::int64_t d = s_.dim, L = s_.depth;
    switch (s_.kind) {
      case TensorNetKind::fully_connected: fc_gradient(theta); break;
      case TensorNetKind::hadamard: hadamard_gradient(); break;
      case TensorNetKind::diagonal:
        for (std::int64_t l = 0; l < L; ++l)
          for (std::int64_t i = 0; i < d; ++i) grad_[l * d + i] = g_[i] * left_[l * d + i] * right_[(l + 1) * d + i];
        break;
      case TensorNetKind::convolutional:
        for (std::int64_t l = 0; l < L; ++l) {
          // d<g, w_l (*) c>/dw_l = correlation of g with c, c = (left_l) (*) (right_{l+1})
          circular_conv(left_.data() + l * d, right_.data() + (l + 1) * d, tmp_.data(), d);
          T* gl = grad_.data() + l * d;
          for (std::int64_t j = 0; j < d; ++j) {
            T s = 0;
            for (std::int64_t i = j; i < d; ++i) s += g_[i] * tmp_[i - j];
            for (std::int64_t i = 0; i < j; ++i) s += g_[i] * tmp_[i - j + d];
            gl[j] = s;
          }
        }
        break;
      case TensorNetKind::odeco: {
        const std::int64_t m = s_.rank, k = s_.factor;
        std::vector<T>& grho = tmp_;
        for (std::int64_t j = 0; j < m; ++j) {
          T s = 0;
          for (std::int64_t i = 0; i < d; ++i) s += s_.S[j * d + i] * g_[i];
          grho[j] = s;
        }
        for (std::int64_t l = 0; l < L; ++l) {
          const T* Ul = s_.U + l * k * m;
          for (std::int64_t a = 0; a < k; ++a) {
            T s = 0;
            for (std::int64_t j = 0; j < m; ++j) s += Ul[a * m + j] * grho[j] * left_[l * m + j] * right_[(l + 1) * m + j];
            grad_[l * k + a] = s;
          }
        }
        break;
      }
    }
    return grad_.data();
  }

 private:
  // factors of term t are f = term_first(t) .. term_first(t + 1) - 1 (factor_term is non-decreasing)
  std::int64_t term_first(std::int64_t t) const {
    std::int64_t f = 0;
    while (f < s_.depth && s_.factor_term[f] < t) ++f;
    return f;
  }

  void hadamard_forward(const T* theta) {
    const std::int64_t d = s_.dim, F = s_.depth;
    // powers by repeated multiplication (exact for p = 1, the single rounding of v * v for p = 2), never std::pow
    for (std::int64_t f = 0; f < F; ++f) {
      const std::int64_t p = s_.factor_power[f];
      const T* v = theta + f * d;
      T* pw = left_.data() + f * d;
      T* dpw = right_.data() + f * d;
      for (std::int64_t i = 0; i < d; ++i) {
        T below = T(1);  // v^{p-1}
        for (std::int64_t k = 1; k < p; ++k) below *= v[i];
        pw[i] = below * v[i];
        dpw[i] = static_cast<T>(p) * below;
      }
    }
    std::fill(beta_.begin(), beta_.end(), T(0));
    for (std::int64_t t = 0; t < s_.terms; ++t) {
      const std::int64_t first = term_first(t), last = term_first(t + 1);
      std::copy_n(left_.data() + first * d, d, tmp_.data());
      for (std::int64_t f = first + 1; f < last; ++f)
        for (std::int64_t i = 0; i < d; ++i) tmp_[i] *= left_[f * d + i];
      const T c = s_.term_coef[t];
      for (std::int64_t i = 0; i < d; ++i) beta_[i] += c * tmp_[i];
    }
  }

  void hadamard_gradient() {
    const std::int64_t d = s_.dim;
    // dbeta/dv_f = c_t p_f v_f^{p_f - 1} prod_{f' != f in t} v_f'^{p_f'}; dLoss/dv_f = that * g
    for (std::int64_t t = 0; t < s_.terms; ++t) {
      const std::int64_t first = term_first(t), last = term_first(t + 1);
      const T c = s_.term_coef[t];
      for (std::int64_t f = first; f < last; ++f) {
        T* G = grad_.data() + f * d;
        for (std::int64_t i = 0; i < d; ++i) G[i] = c * right_[f * d + i];
        for (std::int64_t o = first; o < last; ++o) {
          if (o == f) continue;
          for (std::int64_t i = 0; i < d; ++i) G[i] *= left_[o * d + i];
        }
        for (std::int64_t i = 0; i < d; ++i) G[i] *= g_[i];
      }
    }
  }

  // layer l (0-based) of a fully connected net maps dims in_l -> out_l: W_l is (in_l x out_l)
  std::int64_t fc_in(std::int64_t l) const { return l == 0 ? s_.dim : s_.width; }
  std::int64_t fc_out(std::int64_t l) const { return l == s_.depth - 1 ? 1 : s_.width; }
  std::int64_t fc_offset(std::int64_t l) const {
    std::int64_t off = 0;
    for (std::int64_t j = 0; j < l; ++j) off += fc_in(j) * fc_out(j);
    return off;
  }

  void fc_forward(const T* theta) {
    const std::int64_t L = s_.depth, stride = std::max(s_.dim, s_.width);
    // right_[l] = W_l ... W_L (a vector of length in_l); right_[L] = 1
    right_[L * stride] = T(1);
    for (std::int64_t l = L - 1; l >= 0; --l) {
      const T* W = theta + fc_offset(l);
      const std::int64_t in = fc_in(l), out = fc_out(l);
      const T* r = right_.data() + (l + 1) * stride;
      T* o = right_.data() + l * stride;
      for (std::int64_t a = 0; a < in; ++a) {
        T s = 0;
        for (std::int64_t b = 0; b < out; ++b) s += W[a * out + b] * r[b];
        o[a] = s;
      }
    }
    std::copy_n(right_.data(), s_.dim, beta_.data());
  }

  void fc_gradient(const T* theta) {
    const std::int64_t L = s_.depth, stride = std::max(s_.dim, s_.width);
    // left_[l] = W_{l-1}^T ... W_0^T g (length in_l); dLoss/dW_l = left_[l] right_[l+1]^T
    std::copy_n(g_.data(), s_.dim, left_.data());
    for (std::int64_t l = 0; l < L; ++l) {
      const T* W = theta + fc_offset(l);
      T* G = grad_.data() + fc_offset(l);
      const std::int64_t in = fc_in(l), out = fc_out(l);
      const T* a_vec = left_.data() + l * stride;
      const T* r = right_.data() + (l + 1) * stride;
      for (std::int64_t a = 0; a < in; ++a)
        for (std::int64_t b = 0; b < out; ++b) G[a * out + b] = a_vec[a] * r[b];
      if (l + 1 < L) {
        T* next = left_.data() + (l + 1) * stride;
        for (std::int64_t b = 0; b < out; ++b) {
          T s = 0;
          for (std::int64_t a = 0; a < in; ++a) s += W[a * out + b] * a_vec[a];
          next[b] = s;
        }
      }
    }
  }

  const TensorNetSpec<T>& s_;
  std::int64_t P_ = 0;
  std::vector<T> grad_, beta_, g_, left_, right_, z_, tmp_;
};

}  // namespace detail

/** Validates the shared structure of a call (array extents are the caller's job). */
template <class T>
void check_tensor_net_spec(const TensorNetSpec<T>& s) {
  OPTCORE_CHECK(s.depth >= 1, "depth must be >= 1, got " << s.depth);
  OPTCORE_CHECK(s.dim >= 1, "dim must be >= 1, got " << s.dim);
  OPTCORE_CHECK(s.n >= 1, "n (examples) must be >= 1, got " << s.n);
  OPTCORE_CHECK(s.steps >= 0, "steps must be >= 0, got " << s.steps);
  OPTCORE_CHECK(s.threads >= 1, "threads must be >= 1, got " << s.threads);
  if (s.kind == TensorNetKind::fully_connected && s.depth > 1)
    OPTCORE_CHECK(s.width >= 1, "width must be >= 1 for a fully connected net of depth > 1, got " << s.width);
  if (s.kind == TensorNetKind::odeco) {
    OPTCORE_CHECK(s.rank >= 1 && s.factor >= 1, "odeco needs rank m >= 1 and factor k >= 1, got " << s.rank << ", " << s.factor);
    OPTCORE_CHECK(s.S != nullptr && s.U != nullptr, "odeco needs S and U");
  }
  if (s.kind == TensorNetKind::hadamard) {
    OPTCORE_CHECK(s.terms >= 1 && s.terms <= s.depth,
                  "a hadamard net needs 1 <= terms <= factors (" << s.depth << "), got " << s.terms);
    OPTCORE_CHECK(s.factor_term != nullptr && s.factor_power != nullptr && s.term_coef != nullptr,
                  "a hadamard net needs factor_term, factor_power and term_coef");
    for (std::int64_t f = 0; f < s.depth; ++f) {
      OPTCORE_CHECK(s.factor_power[f] >= 1 && s.factor_power[f] <= 64,
                    "factor_power must be in [1, 64], got " << s.factor_power[f] << " for factor " << f);
      OPTCORE_CHECK(s.factor_term[f] >= 0 && s.factor_term[f] < s.terms &&
                        (f == 0 ? s.factor_term[f] == 0 : s.factor_term[f] - s.factor_term[f - 1] <= 1) &&
                        (f == 0 || s.factor_term[f] >= s.factor_term[f - 1]),
                    "factor_term must run 0, .., terms - 1 without gaps and never decrease");
    }
    OPTCORE_CHECK(s.factor_term[s.depth - 1] == s.terms - 1, "every term needs at least one factor");
  }
  for (std::int64_t i = 0; i < s.records; ++i) {
    OPTCORE_CHECK(s.record_at[i] >= 0 && s.record_at[i] <= s.steps,
                  "record_at must hold steps in [0, " << s.steps << "], got " << s.record_at[i]);
    OPTCORE_CHECK(i == 0 || s.record_at[i] > s.record_at[i - 1], "record_at must be strictly increasing");
  }
}

/** Runs full-batch GD for every run; records beta and the loss at spec.record_at; theta ends at the last step. */
template <class T>
void linear_tensor_gd(const TensorNetSpec<T>& spec, const TensorNetRuns<T>& runs) {
  check_tensor_net_spec(spec);
  const std::int64_t P = spec.params(), d = spec.dim, K = spec.records;
  parallel_chunks(runs.runs, spec.threads, [&](std::int64_t first, std::int64_t last) {
    detail::TensorNetStepper<T> st(spec);
    for (std::int64_t r = first; r < last; ++r) {
      T* theta = runs.theta + r * P;
      const T eta = runs.step[r];
      const T* eta_p = runs.step_params == nullptr ? nullptr : runs.step_params + r * P;
      T* beta_out = runs.beta + r * K * d;
      T* loss_out = runs.loss + r * K;
      runs.diverged[r] = -1;
      std::int64_t next = 0;
      for (std::int64_t t = 0; t <= spec.steps; ++t) {
        checkpoint(spec.stop);  // one full-batch step: a chunk of work
        const T loss = st.forward(theta);
        if (!std::isfinite(loss)) {
          // a diverged run stops; its remaining records are NaN so nobody mistakes them for results
          runs.diverged[r] = t;
          for (; next < K; ++next) {
            std::fill_n(beta_out + next * d, d, std::numeric_limits<T>::quiet_NaN());
            loss_out[next] = std::numeric_limits<T>::quiet_NaN();
          }
          break;
        }
        if (next < K && spec.record_at[next] == t) {
          std::copy_n(st.beta(), d, beta_out + next * d);
          loss_out[next] = loss;
          ++next;
        }
        if (t == spec.steps) break;
        const T* grad = st.gradient(theta);
        if (eta_p == nullptr) {
          for (std::int64_t p = 0; p < P; ++p) theta[p] -= eta * grad[p];
        } else {
          for (std::int64_t p = 0; p < P; ++p) theta[p] -= eta_p[p] * grad[p];
        }
      }
    }
  }, spec.stop);
}

}  // namespace optcore
