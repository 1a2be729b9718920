/** @file games.hpp
 *  Bilinear zero-sum games, many runs per call: max_x min_y x^T A y with A (n x m), x the maximizer.
 *
 *  Domains and methods (z_t = (x_t, y_t), g_t = (A y_t, -A^T x_t) the ascent direction of both players):
 *    - simplex (x in Delta_n, y in Delta_m):
 *        mwu   x_{t+1} ∝ x_t exp(eta A y_t),                     y_{t+1} ∝ y_t exp(-eta A^T x_t)
 *        omwu  x_{t+1} ∝ x_t exp(eta (2 A y_t - A y_{t-1})),     y_{t+1} ∝ y_t exp(-eta (2 A^T x_t - A^T x_{t-1}))
 *        gda, ogda, extragradient: the unconstrained rules below followed by the Euclidean projection onto the
 *        simplices (sort-based, exact: Held-Wolfe-Crowder / Duchi et al.).
 *    - unconstrained (x in R^n, y in R^m):
 *        gda   z_{t+1} = z_t + eta g_t
 *        ogda  z_{t+1} = z_t + eta (2 g_t - g_{t-1})      (single-sequence optimistic form)
 *        extragradient  z' = z_t + eta g(z_t),  z_{t+1} = z_t + eta g(z')
 *  The first step of the optimistic methods uses z_{-1} (given, or z_0).
 *
 *  MWU and OMWU keep log-weights l (x = softmax(l)) shifted by their maximum after every step, so no run of any
 *  length overflows or divides by zero: an action whose weight underflows keeps its exact log-probability (used
 *  for the KL divergence) and probability 0.
 *
 *  Recorded every `record_every` steps (t = 0, k, 2k, ... <= steps): KL(x*||x_t) + KL(y*||y_t), the duality gap
 *  max_i (A y_t)_i - min_j (A^T x_t)_j, the distance |z_t - z*|_2, the duality gap of the average iterate
 *  (1/(t+1)) sum_{s<=t} z_s, and optionally the iterates. converged_at is the first step t with
 *  |x_t - x*|_1 + |y_t - y*|_1 <= tol. A run whose iterate stops being finite is stopped: diverged = that step,
 *  its later records NaN.
 *
 *  The arithmetic of a run does not depend on the other runs or on the thread count: results are bitwise
 *  reproducible. Every matrix-vector product sums in index order (A y over j, A^T x over i).
 */
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "optcore/config.hpp"
#include "optcore/stop.hpp"

namespace optcore {

enum class GameMethod : int { mwu = 0, omwu = 1, gda = 2, ogda = 3, extragradient = 4 };
enum class GameDomain : int { simplex = 0, unconstrained = 1 };

/** What all runs of one call share: the games, the method, the schedule of records. */
template <class T>
struct GameSpec {
  GameMethod method = GameMethod::omwu;
  GameDomain domain = GameDomain::simplex;
  std::int64_t n = 0, m = 0;     ///< x in R^n, y in R^m
  std::int64_t games = 0;        ///< G
  const T* A = nullptr;          ///< (G, n, m) row-major
  const T* xstar = nullptr;      ///< (G, n) equilibrium x* (or nullptr: no kl, dist, converged_at)
  const T* ystar = nullptr;      ///< (G, m)
  std::int64_t steps = 0;
  std::int64_t record_every = 1;  ///< k >= 1: records at t = 0, k, 2k, ... <= steps
  T tol = 0;                     ///< converged_at threshold on the l1 distance (<= 0: not tracked)
  int threads = 1;
  StopToken* stop = nullptr;     ///< polled every kStepsPerCheck steps (stop.hpp)

  std::int64_t records() const { return steps / record_every + 1; }
};

/** Per-run inputs and outputs (R runs). Record arrays may be nullptr (not recorded). */
template <class T>
struct GameRuns {
  std::int64_t runs = 0;
  const std::int64_t* game = nullptr;  ///< (R,) index of each run's game in [0, G)
  const T* step = nullptr;             ///< (R,) step sizes eta > 0
  T* x = nullptr;                      ///< (R, n) x_0 in, final x out
  T* y = nullptr;                      ///< (R, m) y_0 in, final y out
  const T* x_prev = nullptr;           ///< (R, n) x_{-1} for the optimistic methods (nullptr: x_0)
  const T* y_prev = nullptr;           ///< (R, m)
  T* kl = nullptr;                     ///< (R, K)
  T* gap = nullptr;                    ///< (R, K)
  T* dist = nullptr;                   ///< (R, K)
  T* avg_gap = nullptr;                ///< (R, K)
  T* iter_x = nullptr;                 ///< (R, K, n)
  T* iter_y = nullptr;                 ///< (R, K, m)
  std::int64_t* converged_at = nullptr;  ///< (R,) first step within tol, -1 if none
  std::int64_t* diverged = nullptr;      ///< (R,) first non-finite step, -1 if none
};

namespace detail {

/// Steps between two stop checks: a step costs well under a microsecond at the sizes games are run at.
constexpr std::int64_t kGameStepsPerCheck = 64;

/** Euclidean projection of v (length d) onto the simplex, in place; `sorted` is scratch of length d. */
template <class T>
inline void project_simplex(T* v, std::int64_t d, T* sorted) {
  std::copy_n(v, d, sorted);
  std::sort(sorted, sorted + d, std::greater<T>());
  T cum = 0, theta = 0;
  for (std::int64_t k = 0; k < d; ++k) {
    cum += sorted[k];
    const T t = (cum - T(1)) / static_cast<T>(k + 1);
    if (sorted[k] - t > T(0)) theta = t;  // the last k with u_k > (sum_{i<=k} u_i - 1) / k
  }
  for (std::int64_t i = 0; i < d; ++i) v[i] = std::max(v[i] - theta, T(0));
}

/** One run's workspace and update rules. */
template <class T>
class GameStepper {
 public:
  explicit GameStepper(const GameSpec<T>& s)
      : s_(s), n_(s.n), m_(s.m), d_(std::max(s.n, s.m)) {
    for (auto* v : {&lx_, &logx_, &gx_, &gxp_, &xh_, &gxh_, &sx_, &scratch_}) v->assign(d_, T(0));
    for (auto* v : {&ly_, &logy_, &gy_, &gyp_, &yh_, &gyh_, &sy_}) v->assign(d_, T(0));
  }

  /** Runs run r of `runs` from its start to the end (or its divergence). */
  void run(const GameRuns<T>& runs, std::int64_t r) {
    const std::int64_t g = runs.game[r], K = s_.records();
    A_ = s_.A + g * n_ * m_;
    xs_ = s_.xstar ? s_.xstar + g * n_ : nullptr;
    ys_ = s_.ystar ? s_.ystar + g * m_ : nullptr;
    const T eta = runs.step[r];
    T* x = runs.x + r * n_;
    T* y = runs.y + r * m_;
    const bool simplex = s_.domain == GameDomain::simplex;
    const bool logspace = s_.method == GameMethod::mwu || s_.method == GameMethod::omwu;
    if (logspace)
      for (std::int64_t i = 0; i < n_; ++i) logx_[i] = lx_[i] = std::log(x[i]);
    if (logspace)
      for (std::int64_t j = 0; j < m_; ++j) logy_[j] = ly_[j] = std::log(y[j]);
    if (s_.method == GameMethod::omwu || s_.method == GameMethod::ogda) {
      // the gradients at z_{-1}
      matvec_Ay(runs.y_prev ? runs.y_prev + r * m_ : y, gxp_.data());
      matvec_Atx(runs.x_prev ? runs.x_prev + r * n_ : x, gyp_.data());
    }
    std::fill_n(sx_.data(), n_, T(0));
    std::fill_n(sy_.data(), m_, T(0));
    if (runs.converged_at) runs.converged_at[r] = -1;
    runs.diverged[r] = -1;
    std::int64_t next = 0;  // next record index
    for (std::int64_t t = 0;; ++t) {
      if (t % kGameStepsPerCheck == 0) checkpoint(s_.stop);
      if (!finite(x, n_) || !finite(y, m_) || (logspace && (!finite(logx_.data(), n_) || !finite(logy_.data(), m_)))) {
        runs.diverged[r] = t;
        fill_nan(runs, r, next, K);
        return;
      }
      matvec_Ay(y, gx_.data());
      matvec_Atx(x, gy_.data());
      for (std::int64_t i = 0; i < n_; ++i) sx_[i] += x[i];
      for (std::int64_t j = 0; j < m_; ++j) sy_[j] += y[j];
      if (runs.converged_at && runs.converged_at[r] < 0 && s_.tol > T(0) && xs_ && l1_distance(x, y) <= s_.tol)
        runs.converged_at[r] = t;
      if (t % s_.record_every == 0) record(runs, r, next++, t, x, y, logspace);
      if (t == s_.steps) return;
      if (logspace) {
        multiplicative_step(eta, x, y);
      } else if (s_.method == GameMethod::extragradient) {
        // z' = z + eta g(z) (projected), then z <- z + eta g(z')
        for (std::int64_t i = 0; i < n_; ++i) xh_[i] = x[i] + eta * gx_[i];
        for (std::int64_t j = 0; j < m_; ++j) yh_[j] = y[j] - eta * gy_[j];
        if (simplex) project_simplex(xh_.data(), n_, scratch_.data()), project_simplex(yh_.data(), m_, scratch_.data());
        matvec_Ay(yh_.data(), gxh_.data());
        matvec_Atx(xh_.data(), gyh_.data());
        for (std::int64_t i = 0; i < n_; ++i) x[i] = x[i] + eta * gxh_[i];
        for (std::int64_t j = 0; j < m_; ++j) y[j] = y[j] - eta * gyh_[j];
      } else if (s_.method == GameMethod::ogda) {
        for (std::int64_t i = 0; i < n_; ++i) x[i] = x[i] + eta * (T(2) * gx_[i] - gxp_[i]);
        for (std::int64_t j = 0; j < m_; ++j) y[j] = y[j] - eta * (T(2) * gy_[j] - gyp_[j]);
        std::swap(gx_, gxp_);
        std::swap(gy_, gyp_);
      } else {  // gda
        for (std::int64_t i = 0; i < n_; ++i) x[i] = x[i] + eta * gx_[i];
        for (std::int64_t j = 0; j < m_; ++j) y[j] = y[j] - eta * gy_[j];
      }
      if (simplex && !logspace) project_simplex(x, n_, scratch_.data()), project_simplex(y, m_, scratch_.data());
    }
  }

 private:
  static bool finite(const T* v, std::int64_t d) {
    for (std::int64_t i = 0; i < d; ++i)
      if (!std::isfinite(v[i])) return false;
    return true;
  }

  /** out = A v (length n), each entry summed over j in order. */
  void matvec_Ay(const T* v, T* out) const {
    std::fill_n(out, n_, T(0));
    for (std::int64_t i = 0; i < n_; ++i) {
      const T* row = A_ + i * m_;
      T s = 0;
      for (std::int64_t j = 0; j < m_; ++j) s += row[j] * v[j];
      out[i] = s;
    }
  }

  /** out = A^T v (length m), each entry summed over i in order. */
  void matvec_Atx(const T* v, T* out) const {
    std::fill_n(out, m_, T(0));
    for (std::int64_t i = 0; i < n_; ++i) {
      const T* row = A_ + i * m_;
      const T vi = v[i];
      for (std::int64_t j = 0; j < m_; ++j) out[j] += row[j] * vi;
    }
  }

  /** l <- l + sign eta (2 g - g_prev) (OMWU) or l + sign eta g (MWU); shift by the maximum; p = softmax(l). */
  static void update_weights(std::vector<T>& l, std::vector<T>& logp, T* p, const T* grad, const T* grad_prev,
                             std::int64_t d, T signed_eta, bool optimistic) {
    T top = -std::numeric_limits<T>::infinity();
    for (std::int64_t i = 0; i < d; ++i) {
      l[i] += optimistic ? signed_eta * (T(2) * grad[i] - grad_prev[i]) : signed_eta * grad[i];
      top = std::max(top, l[i]);
    }
    T total = 0;
    for (std::int64_t i = 0; i < d; ++i) {
      l[i] -= top;  // max l = 0: exp never overflows, and the largest weight is 1
      p[i] = std::exp(l[i]);
      total += p[i];
    }
    const T log_total = std::log(total);
    for (std::int64_t i = 0; i < d; ++i) {
      p[i] /= total;
      logp[i] = l[i] - log_total;
    }
  }

  void multiplicative_step(T eta, T* x, T* y) {
    const bool optimistic = s_.method == GameMethod::omwu;
    update_weights(lx_, logx_, x, gx_.data(), gxp_.data(), n_, eta, optimistic);
    update_weights(ly_, logy_, y, gy_.data(), gyp_.data(), m_, -eta, optimistic);
    if (optimistic) {
      std::swap(gx_, gxp_);
      std::swap(gy_, gyp_);
    }
  }

  T l1_distance(const T* x, const T* y) const {
    T s = 0;
    for (std::int64_t i = 0; i < n_; ++i) s += std::abs(x[i] - xs_[i]);
    for (std::int64_t j = 0; j < m_; ++j) s += std::abs(y[j] - ys_[j]);
    return s;
  }

  /** KL(p*||p) = sum over p*_i > 0 of p*_i (log p*_i - log p_i); +inf where p_i = 0 < p*_i. */
  static T kl_part(const T* star, const T* p, const T* logp, std::int64_t d) {
    T s = 0;
    for (std::int64_t i = 0; i < d; ++i)
      if (star[i] > T(0)) s += star[i] * (std::log(star[i]) - (logp ? logp[i] : std::log(p[i])));
    return s;
  }

  static T gap_of(const T* ay, const T* atx, std::int64_t n, std::int64_t m) {
    T hi = -std::numeric_limits<T>::infinity(), lo = std::numeric_limits<T>::infinity();
    for (std::int64_t i = 0; i < n; ++i) hi = std::max(hi, ay[i]);
    for (std::int64_t j = 0; j < m; ++j) lo = std::min(lo, atx[j]);
    return hi - lo;
  }

  void record(const GameRuns<T>& runs, std::int64_t r, std::int64_t k, std::int64_t t, const T* x, const T* y,
              bool logspace) {
    const std::int64_t K = s_.records(), at = r * K + k;
    if (runs.kl && xs_)
      runs.kl[at] = kl_part(xs_, x, logspace ? logx_.data() : nullptr, n_) +
                    kl_part(ys_, y, logspace ? logy_.data() : nullptr, m_);
    if (runs.gap) runs.gap[at] = gap_of(gx_.data(), gy_.data(), n_, m_);
    if (runs.dist && xs_) {
      T s = 0;
      for (std::int64_t i = 0; i < n_; ++i) s += (x[i] - xs_[i]) * (x[i] - xs_[i]);
      for (std::int64_t j = 0; j < m_; ++j) s += (y[j] - ys_[j]) * (y[j] - ys_[j]);
      runs.dist[at] = std::sqrt(s);
    }
    if (runs.avg_gap) {
      const T inv = T(1) / static_cast<T>(t + 1);
      for (std::int64_t i = 0; i < n_; ++i) xh_[i] = sx_[i] * inv;
      for (std::int64_t j = 0; j < m_; ++j) yh_[j] = sy_[j] * inv;
      matvec_Ay(yh_.data(), gxh_.data());
      matvec_Atx(xh_.data(), gyh_.data());
      runs.avg_gap[at] = gap_of(gxh_.data(), gyh_.data(), n_, m_);
    }
    if (runs.iter_x) std::copy_n(x, n_, runs.iter_x + at * n_);
    if (runs.iter_y) std::copy_n(y, m_, runs.iter_y + at * m_);
  }

  void fill_nan(const GameRuns<T>& runs, std::int64_t r, std::int64_t from, std::int64_t K) const {
    const T nan = std::numeric_limits<T>::quiet_NaN();
    for (std::int64_t k = from; k < K; ++k) {
      const std::int64_t at = r * K + k;
      for (T* a : {runs.kl, runs.gap, runs.dist, runs.avg_gap})
        if (a) a[at] = nan;
      if (runs.iter_x) std::fill_n(runs.iter_x + at * n_, n_, nan);
      if (runs.iter_y) std::fill_n(runs.iter_y + at * m_, m_, nan);
    }
  }

  const GameSpec<T>& s_;
  std::int64_t n_, m_, d_;
  const T* A_ = nullptr;
  const T* xs_ = nullptr;
  const T* ys_ = nullptr;
  // x side (length n) and y side (length m), each sized max(n, m)
  std::vector<T> lx_, logx_, gx_, gxp_, xh_, gxh_, sx_, scratch_;
  std::vector<T> ly_, logy_, gy_, gyp_, yh_, gyh_, sy_;
};

}  // namespace detail

/** Validates what the runs share (array extents are the caller's job). */
template <class T>
void check_game_spec(const GameSpec<T>& s) {
  OPTCORE_CHECK(s.n >= 1 && s.m >= 1, "the game matrix must be at least 1 x 1, got " << s.n << " x " << s.m);
  OPTCORE_CHECK(s.games >= 1, "games must be >= 1, got " << s.games);
  OPTCORE_CHECK(s.steps >= 0, "steps must be >= 0, got " << s.steps);
  OPTCORE_CHECK(s.record_every >= 1, "record_every must be >= 1, got " << s.record_every);
  OPTCORE_CHECK(s.threads >= 1, "threads must be >= 1, got " << s.threads);
  OPTCORE_CHECK(s.domain == GameDomain::simplex || (s.method != GameMethod::mwu && s.method != GameMethod::omwu),
                "MWU and OMWU are defined on the simplex only");
}

/** Runs every run of `runs` (see the file comment). */
template <class T>
void run_games(const GameSpec<T>& spec, const GameRuns<T>& runs) {
  check_game_spec(spec);
  for (std::int64_t r = 0; r < runs.runs; ++r) {
    OPTCORE_CHECK(runs.game[r] >= 0 && runs.game[r] < spec.games,
                  "game index of run " << r << " must be in [0, " << spec.games << "), got " << runs.game[r]);
    OPTCORE_CHECK(runs.step[r] > T(0) && std::isfinite(runs.step[r]),
                  "step size of run " << r << " must be finite and > 0, got " << runs.step[r]);
  }
  parallel_chunks(runs.runs, spec.threads, [&](std::int64_t first, std::int64_t last) {
    detail::GameStepper<T> stepper(spec);
    for (std::int64_t r = first; r < last; ++r) stepper.run(runs, r);
  }, spec.stop);
}

}  // namespace optcore
