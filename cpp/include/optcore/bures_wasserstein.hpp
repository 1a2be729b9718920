/** @file bures_wasserstein.hpp
 *  Deep linear generators trained with the Bures-Wasserstein loss (RELATED.md section 2): loss, per-layer
 *  gradients and full-batch GD of many runs per call.
 *
 *  A generator of depth N and widths d_0, ..., d_N maps z ~ N(0, I_{d_0}) to x = W z, W = W_N ... W_1 (W_j is
 *  d_j x d_{j-1}), so the model distribution is N(0, W W^T). The parameters of one run are W_1, ..., W_N, each
 *  row-major, one after the other. With the target covariance Sigma_0 = R_0^2 (R_0 its symmetric square root):
 *
 *    Bures-Wasserstein, tau >= 0:  L_tau(W) = |W|^2 + tau d_N + tr Sigma_0 - 2 |R_0 [W, sqrt(tau) I]|_*
 *    square loss (the baseline):   L_F(W)   = |W W^T - Sigma_0|^2
 *
 *  The nuclear form equals BW^2(W W^T + tau I, Sigma_0) = tr(..) + tr Sigma_0 - 2 tr(R_0 (W W^T + tau I) R_0)^{1/2}
 *  because A A^T = R_0 (W W^T + tau I) R_0 for A = R_0 [W, sqrt(tau) I]; it stays exact where W is rank deficient
 *  (jacobi_svd.hpp). End-to-end gradients: 2 W - 2 R_0 (U_r V_r^T)[:, :d_0] with A = U S V^T (r = the rank bound
 *  min_j d_j at tau = 0, every nonzero singular value at tau > 0: then it equals 2(W - R_0 M^{-1/2} R_0 W),
 *  M = R_0 W W^T R_0 + tau Sigma_0), and 4 (W W^T - Sigma_0) W. Layers by the chain rule:
 *  grad W_i = B_i^T G F_i^T, F_i = W_{i-1} ... W_1, B_i = W_N ... W_{i+1}.
 *
 *  One GD step is theta <- theta - eta_r grad L(theta). A run's arithmetic does not depend on the other runs or the
 *  thread count: results are bitwise reproducible.
 */
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "optcore/config.hpp"
#include "optcore/jacobi_svd.hpp"
#include "optcore/stop.hpp"

namespace optcore {

/** The losses of a Bures-Wasserstein generator call. */
enum class GeneratorLossKind : int { bures_wasserstein = 0, square = 1 };

/** Shared data and options of one call: the network, the target, the loss, the schedule. */
template <class T>
struct GeneratorSpec {
  std::int64_t depth = 1;                  ///< N >= 1
  const std::int64_t* widths = nullptr;    ///< d_0 .. d_N (N + 1 values >= 1)
  const T* root = nullptr;                 ///< R_0 = Sigma_0^{1/2} (d_N x d_N, symmetric)
  const T* target = nullptr;               ///< Sigma_0 (d_N x d_N), for the square loss
  T trace_target = 0;                      ///< tr Sigma_0
  T tau = 0;                               ///< smoothing, >= 0 (Bures-Wasserstein only)
  GeneratorLossKind loss = GeneratorLossKind::bures_wasserstein;
  std::int64_t steps = 0;                  ///< GD steps per run
  const std::int64_t* record_at = nullptr; ///< strictly increasing step counts in [0, steps]
  std::int64_t records = 0;
  int threads = 1;
  StopToken* stop = nullptr;               ///< checked every step (stop.hpp)

  std::int64_t dz() const { return widths[0]; }
  std::int64_t dx() const { return widths[depth]; }
  /** Parameters per run: sum_j d_j d_{j-1}. */
  std::int64_t params() const {
    std::int64_t p = 0;
    for (std::int64_t j = 1; j <= depth; ++j) p += widths[j] * widths[j - 1];
    return p;
  }
  /** k = min_j d_j: the largest rank of W. */
  std::int64_t rank_bound() const { return *std::min_element(widths, widths + depth + 1); }
  /** Entries of the balance matrices W_{j+1}^T W_{j+1} - W_j W_j^T, j = 1..N-1. */
  std::int64_t balance_size() const {
    std::int64_t b = 0;
    for (std::int64_t j = 1; j < depth; ++j) b += widths[j] * widths[j];
    return b;
  }
};

/** Per-run arrays: parameters (updated in place), step sizes and the recording buffers. */
template <class T>
struct GeneratorRuns {
  std::int64_t runs = 0;
  T* theta = nullptr;                 ///< (R, P) initial parameters in, final parameters out
  const T* step = nullptr;            ///< (R,) step sizes
  T* loss = nullptr;                  ///< (R, K) loss at each recorded step
  T* grad_norm = nullptr;             ///< (R, K) |grad L(theta)| over all layers
  T* drift = nullptr;                 ///< (R, K) |D(t) - D(0)|, D = the balance matrices
  T* end_to_end = nullptr;            ///< (R, K, d_N, d_0) W at each recorded step
  std::int64_t* diverged = nullptr;   ///< (R,) first step whose loss was not finite, -1 if none
};

namespace detail {

/** C = op(A) B, B k x n and C m x n row-major, op(A)[i][l] = A[i * a_row + l * a_col]: A B for an m x k A
 *  (strides k, 1), A^T B for a k x m A (strides 1, m). Every entry sums over l in increasing order from 0, so
 *  both uses round alike. */
template <class T>
inline void mat_mul_strided(std::int64_t m, std::int64_t k, std::int64_t n, const T* A, std::int64_t a_row,
                            std::int64_t a_col, const T* B, T* C) {
  std::fill_n(C, m * n, T(0));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t l = 0; l < k; ++l) {
      const T a = A[i * a_row + l * a_col];
      const T* b = B + l * n;
      T* c = C + i * n;
      for (std::int64_t j = 0; j < n; ++j) c[j] += a * b[j];
    }
}

/** C = A B, A m x k, B k x n, all row-major. */
template <class T>
inline void mat_mul(std::int64_t m, std::int64_t k, std::int64_t n, const T* A, const T* B, T* C) {
  mat_mul_strided(m, k, n, A, k, 1, B, C);
}

/** C = A B^T, A m x k, B n x k. */
template <class T>
inline void mat_mul_nt(std::int64_t m, std::int64_t k, std::int64_t n, const T* A, const T* B, T* C) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      T s = 0;
      for (std::int64_t l = 0; l < k; ++l) s += A[i * k + l] * B[j * k + l];
      C[i * n + j] = s;
    }
}

/** C = A^T B, A k x m, B k x n. */
template <class T>
inline void mat_mul_tn(std::int64_t m, std::int64_t k, std::int64_t n, const T* A, const T* B, T* C) {
  mat_mul_strided(m, k, n, A, 1, m, B, C);
}

/** One run's workspace: loss and gradient of a generator at any parameters. */
template <class T>
class GeneratorStepper {
 public:
  explicit GeneratorStepper(const GeneratorSpec<T>& s) : s_(s) {
    const std::int64_t N = s.depth, dz = s.dz(), dx = s.dx();
    offset_.assign(N + 1, 0);
    prefix_.assign(N + 1, 0);
    for (std::int64_t j = 1; j <= N; ++j) {
      offset_[j] = offset_[j - 1] + s.widths[j] * s.widths[j - 1];
      prefix_[j] = prefix_[j - 1] + s.widths[j] * dz;
    }
    F_.assign(prefix_[N], T(0));
    std::int64_t widest = 0;
    for (std::int64_t j = 0; j <= N; ++j) widest = std::max(widest, s.widths[j]);
    H_.assign(widest * dz, T(0));
    H2_.assign(widest * dz, T(0));
    G_.assign(dx * dz, T(0));
    cols_ = dz + (s.tau > 0 ? dx : 0);
    A_.assign(dx * cols_, T(0));
    Q_.assign(dx * cols_, T(0));
    S_.assign(dx * dx, T(0));
    balance_.assign(s.balance_size(), T(0));
  }

  /** W = W_N ... W_1 of the parameters of the last evaluate(): d_N x d_0, row-major. */
  const T* end_to_end() const { return F_.data() + prefix_[s_.depth - 1]; }

  /**
   * Loss at theta; when grad is not null, the gradient with respect to every layer into grad (P values). `warm`
   * starts the SVD from the previous call's rotation (GD steps of one run: consecutive points are close); a cold
   * call depends on theta alone.
   */
  T evaluate(const T* theta, T* grad, bool warm = false) {
    const std::int64_t N = s_.depth, dz = s_.dz(), dx = s_.dx();
    // F_j = W_j ... W_1 (d_j x d_0), stored one after the other; F_N = W
    std::copy_n(theta, s_.widths[1] * dz, F_.data());
    for (std::int64_t j = 2; j <= N; ++j)
      mat_mul(s_.widths[j], s_.widths[j - 1], dz, theta + offset_[j - 1], F_.data() + prefix_[j - 2],
              F_.data() + prefix_[j - 1]);
    const T* W = end_to_end();
    T loss = s_.loss == GeneratorLossKind::square ? square_loss(W, grad != nullptr)
                                                   : bw_loss(W, grad != nullptr, warm);
    if (grad == nullptr || !std::isfinite(loss)) return loss;
    // backward: H_N = G, grad W_j = H_j F_{j-1}^T (F_0 = I), H_{j-1} = W_j^T H_j
    std::copy_n(G_.data(), dx * dz, H_.data());
    for (std::int64_t j = N; j >= 1; --j) {
      const std::int64_t out = s_.widths[j], in = s_.widths[j - 1];
      T* gj = grad + offset_[j - 1];
      if (j == 1) {
        std::copy_n(H_.data(), out * dz, gj);
      } else {
        mat_mul_nt(out, dz, in, H_.data(), F_.data() + prefix_[j - 2], gj);
        mat_mul_tn(in, out, dz, theta + offset_[j - 1], H_.data(), H2_.data());
        std::swap(H_, H2_);
      }
    }
    return loss;
  }

  /** The balance matrices W_{j+1}^T W_{j+1} - W_j W_j^T, j = 1..N-1, of theta (balance_size() values). */
  const T* balance(const T* theta) {
    std::int64_t off = 0;
    for (std::int64_t j = 1; j < s_.depth; ++j) {
      const std::int64_t dj = s_.widths[j], prev = s_.widths[j - 1], next = s_.widths[j + 1];
      const T* Wj = theta + offset_[j - 1];   // dj x prev
      const T* Wn = theta + offset_[j];       // next x dj
      T* D = balance_.data() + off;
      for (std::int64_t a = 0; a < dj; ++a)
        for (std::int64_t b = 0; b < dj; ++b) {
          T up = 0, down = 0;
          for (std::int64_t l = 0; l < next; ++l) up += Wn[l * dj + a] * Wn[l * dj + b];
          for (std::int64_t l = 0; l < prev; ++l) down += Wj[a * prev + l] * Wj[b * prev + l];
          D[a * dj + b] = up - down;
        }
      off += dj * dj;
    }
    return balance_.data();
  }

 private:
  T bw_loss(const T* W, bool want_grad, bool warm) {
    const std::int64_t dz = s_.dz(), dx = s_.dx(), c = cols_;
    const T* R = s_.root;
    T norm2 = 0;
    for (std::int64_t i = 0; i < dx * dz; ++i) norm2 += W[i] * W[i];
    // A = R_0 [W, sqrt(tau) I]  (dx x c)
    for (std::int64_t a = 0; a < dx; ++a) {
      T* row = A_.data() + a * c;
      std::fill_n(row, c, T(0));
      for (std::int64_t l = 0; l < dx; ++l) {
        const T r = R[a * dx + l];
        const T* w = W + l * dz;
        for (std::int64_t j = 0; j < dz; ++j) row[j] += r * w[j];
      }
      if (c > dz) {
        const T st = std::sqrt(s_.tau);
        for (std::int64_t l = 0; l < dx; ++l) row[dz + l] = st * R[a * dx + l];
      }
    }
    // the rows of A at tau = 0 span at most rank_bound() directions; at tau > 0 every nonzero one counts
    const std::int64_t keep = s_.tau > 0 ? dx : s_.rank_bound();
    T nuclear;
    if (dx <= c) {
      nuclear = jacobi_polar(dx, c, A_.data(), keep, want_grad ? Q_.data() : nullptr, polar_, warm);
    } else {
      // wide problem the other way round (tau = 0, d_0 < d_N): orthogonalize the d_0 columns instead
      At_.resize(dz * dx);
      for (std::int64_t a = 0; a < dx; ++a)
        for (std::int64_t j = 0; j < dz; ++j) At_[j * dx + a] = A_[a * dz + j];
      Qt_.resize(dz * dx);
      nuclear = jacobi_polar(dz, dx, At_.data(), keep, want_grad ? Qt_.data() : nullptr, polar_, warm);
      if (want_grad)
        for (std::int64_t a = 0; a < dx; ++a)
          for (std::int64_t j = 0; j < dz; ++j) Q_[a * c + j] = Qt_[j * dx + a];
    }
    const T loss = norm2 + s_.tau * static_cast<T>(dx) + s_.trace_target - 2 * nuclear;
    if (want_grad) {
      // G = 2 W - 2 R_0 Q[:, :dz]
      for (std::int64_t a = 0; a < dx; ++a) {
        T* g = G_.data() + a * dz;
        for (std::int64_t j = 0; j < dz; ++j) g[j] = 2 * W[a * dz + j];
        for (std::int64_t l = 0; l < dx; ++l) {
          const T r = 2 * R[a * dx + l];
          const T* q = Q_.data() + l * c;
          for (std::int64_t j = 0; j < dz; ++j) g[j] -= r * q[j];
        }
      }
    }
    return loss;
  }

  T square_loss(const T* W, bool want_grad) {
    const std::int64_t dz = s_.dz(), dx = s_.dx();
    mat_mul_nt(dx, dz, dx, W, W, S_.data());
    T loss = 0;
    for (std::int64_t i = 0; i < dx * dx; ++i) {
      S_[i] -= s_.target[i];
      loss += S_[i] * S_[i];
    }
    if (want_grad) {
      mat_mul(dx, dx, dz, S_.data(), W, G_.data());
      for (std::int64_t i = 0; i < dx * dz; ++i) G_[i] *= 4;
    }
    return loss;
  }

  const GeneratorSpec<T>& s_;
  std::vector<std::int64_t> offset_, prefix_;
  std::int64_t cols_ = 0;
  std::vector<T> F_, H_, H2_, G_, A_, Q_, At_, Qt_, S_, balance_;
  JacobiPolar<T> polar_;
};

}  // namespace detail

/** Validates the shared structure of a call (array extents are the caller's job). */
template <class T>
void check_generator_spec(const GeneratorSpec<T>& s) {
  OPTCORE_CHECK(s.depth >= 1, "depth must be >= 1, got " << s.depth);
  for (std::int64_t j = 0; j <= s.depth; ++j)
    OPTCORE_CHECK(s.widths[j] >= 1, "widths must be >= 1, got widths[" << j << "] = " << s.widths[j]);
  OPTCORE_CHECK(std::isfinite(s.tau) && s.tau >= 0, "tau must be finite and >= 0, got " << s.tau);
  OPTCORE_CHECK(s.loss != GeneratorLossKind::square || s.target != nullptr, "the square loss needs the target");
  OPTCORE_CHECK(s.steps >= 0, "steps must be >= 0, got " << s.steps);
  OPTCORE_CHECK(s.threads >= 1, "threads must be >= 1, got " << s.threads);
  for (std::int64_t i = 0; i < s.records; ++i) {
    OPTCORE_CHECK(s.record_at[i] >= 0 && s.record_at[i] <= s.steps,
                  "record_at must hold steps in [0, " << s.steps << "], got " << s.record_at[i]);
    OPTCORE_CHECK(i == 0 || s.record_at[i] > s.record_at[i - 1], "record_at must be strictly increasing");
  }
}

/** Loss and gradient at each of R parameter vectors (R x P): for tests, finite-difference Hessians, probes. */
template <class T>
void generator_evaluate(const GeneratorSpec<T>& spec, std::int64_t R, const T* theta, T* loss, T* grad) {
  check_generator_spec(spec);
  const std::int64_t P = spec.params();
  parallel_chunks(R, spec.threads, [&](std::int64_t first, std::int64_t last) {
    detail::GeneratorStepper<T> st(spec);
    for (std::int64_t r = first; r < last; ++r) {
      checkpoint(spec.stop);
      loss[r] = st.evaluate(theta + r * P, grad ? grad + r * P : nullptr);
    }
  }, spec.stop);
}

/// GD steps between cold starts of the SVD iteration (generator_gd)
constexpr std::int64_t kColdEvery = 32;

/** Full-batch GD for every run; records at spec.record_at; theta ends at the last step. */
template <class T>
void generator_gd(const GeneratorSpec<T>& spec, const GeneratorRuns<T>& runs) {
  check_generator_spec(spec);
  const std::int64_t P = spec.params(), K = spec.records, B = spec.balance_size();
  const std::int64_t E = spec.dx() * spec.dz();
  const T nan = std::numeric_limits<T>::quiet_NaN();
  parallel_chunks(runs.runs, spec.threads, [&](std::int64_t first, std::int64_t last) {
    detail::GeneratorStepper<T> st(spec);
    std::vector<T> grad(P), balance0(B);
    for (std::int64_t r = first; r < last; ++r) {
      T* theta = runs.theta + r * P;
      const T eta = runs.step[r];
      runs.diverged[r] = -1;
      std::copy_n(st.balance(theta), B, balance0.data());
      std::int64_t next = 0;
      for (std::int64_t t = 0; t <= spec.steps; ++t) {
        checkpoint(spec.stop);  // one full-batch step: a chunk of work
        // warm SVD starts between steps of the run, a cold one every kColdEvery steps so that the rotation's
        // rounding cannot accumulate (and a run's numbers depend on its own history only)
        const T loss = st.evaluate(theta, grad.data(), t % kColdEvery != 0);
        T gn2 = 0;
        for (std::int64_t p = 0; p < P; ++p) gn2 += grad[p] * grad[p];
        if (!std::isfinite(loss) || !std::isfinite(gn2)) {
          // a diverged run stops; its remaining records are NaN so nobody mistakes them for results
          runs.diverged[r] = t;
          for (; next < K; ++next) {
            runs.loss[r * K + next] = nan;
            if (runs.grad_norm) runs.grad_norm[r * K + next] = nan;
            if (runs.drift) runs.drift[r * K + next] = nan;
            if (runs.end_to_end) std::fill_n(runs.end_to_end + (r * K + next) * E, E, nan);
          }
          break;
        }
        if (next < K && spec.record_at[next] == t) {
          runs.loss[r * K + next] = loss;
          if (runs.grad_norm) runs.grad_norm[r * K + next] = std::sqrt(gn2);
          if (runs.drift) {
            const T* D = st.balance(theta);
            T d2 = 0;
            for (std::int64_t b = 0; b < B; ++b) d2 += (D[b] - balance0[b]) * (D[b] - balance0[b]);
            runs.drift[r * K + next] = std::sqrt(d2);
          }
          if (runs.end_to_end) std::copy_n(st.end_to_end(), E, runs.end_to_end + (r * K + next) * E);
          ++next;
        }
        if (t == spec.steps) break;
        for (std::int64_t p = 0; p < P; ++p) theta[p] -= eta * grad[p];
      }
    }
  }, spec.stop);
}

}  // namespace optcore
