// The batched SGD engine on the GPU: one thread per run, each doing what the CPU engine (engine.hpp,
// GroupRunner::run_group) does for that run -- every order kind, minibatches with the remainder policy, M workers in
// minibatch or local mode, step-size tables and decay, divergence checks, recording at epoch ends or every k steps.
// The orders, the component gradients and steps, and the objectives come from the same headers as the CPU build
// (orders.hpp, problems.hpp, kernels.hpp), so with fused multiply-adds off (-fmad=false) a run computes the same
// operations in the same order as on the CPU.
//
// Record arrays arrive filled with NaN (as on the CPU), so a run that diverged simply stops writing its records.
#include "optcore/orders.hpp"
#include "optcore/problems.hpp"
#include "optcore/types.hpp"

namespace optcore_cuda {

using optcore::OrderKind;
using optcore::OrderSpec;

/** The loop's structure and a run's scratch, as the kernel arguments give them. */
template <class T>
struct Loop {
  OrderSpec order;
  std::int64_t epochs, steps, records, record_every, sync_every;
  std::uint32_t batch;
  bool local;
  // per-run inputs
  const std::uint64_t* seeds;
  const std::uint32_t* run_ids;
  const T* step_table;  // (R, K)
  const T* decay;       // (R,)
  // recording
  const T* x_star;
  const T* hessian;
  int has_f_star;
  T f_star;
  T *gap, *dist, *objective, *iterates;
  std::uint8_t* diverged;
};

/** One run's working memory, carved out of per-run slices of global buffers. */
template <class T>
struct Work {
  std::uint32_t* orders;   // (M, N)
  std::uint32_t* scratch;  // (N + M,)
  T* grad;                 // (d,)
  T* tmp;                  // (d,)
  T* workers;              // (M, d), local mode only
};

template <class T, class P>
class RunOne {
 public:
  __device__ RunOne(const P& p, const Loop<T>& loop, const Work<T>& w, std::int64_t r, T* x, std::int64_t d)
      : p_(p), L_(loop), w_(w), r_(r), x_(x), d_(d), M_(loop.order.workers), N_(loop.order.per_worker) {}

  __device__ void run() {
    const std::int64_t K = L_.epochs, steps = L_.steps;
    const std::uint32_t B = L_.batch, count = L_.order.count;
    bool alive = true;
    if (L_.local)
      for (std::uint32_t m = 0; m < M_; ++m) copy(x_, worker_x(m));
    record(0, x_);
    std::int64_t t = 0, rec_index = 1;
    for (std::int64_t k = 0; k < K; ++k) {
      next_orders(k);
      if (!L_.local && M_ == 1 && B == 1) {
        // The CPU's plain path: a diverged run keeps stepping until the epoch ends (its records are NaN anyway).
        const std::uint32_t* row = order_row(0);
        for (std::int64_t s = 0; s < steps; ++s) {
          p_.step(row[s], x_, step_size(k, t), w_.tmp);
          ++t;
          if (L_.record_every > 0 && t % L_.record_every == 0) record_if(alive, rec_index++, false, true);
        }
      } else {
        for (std::int64_t s = 0; s < steps; ++s) {
          const std::uint32_t lo = static_cast<std::uint32_t>(s) * B;
          const std::uint32_t b = B < count - lo ? B : count - lo;
          const bool sync = L_.local && ((s + 1) % L_.sync_every == 0 || s + 1 == steps);
          if (alive) {
            const T eta = step_size(k, t);
            if (L_.local) {
              for (std::uint32_t m = 0; m < M_; ++m) batch_step(order_row(m) + lo, b, m, worker_x(m), eta);
              if (sync) average_workers(x_, true);
            } else if (M_ == 1 && b == 1) {
              p_.step(order_row(0)[lo], x_, eta, w_.tmp);
            } else {
              zero(w_.grad);
              for (std::uint32_t m = 0; m < M_; ++m) add_batch_grad(order_row(m) + lo, b, m, x_, w_.grad);
              optcore::axpy(-eta / static_cast<T>(static_cast<std::int64_t>(M_) * b), w_.grad, x_, d_);
            }
          }
          ++t;
          if (L_.record_every > 0 && t % L_.record_every == 0) record_if(alive, rec_index++, L_.local, sync);
        }
      }
      if (alive && !all_finite(x_)) {
        alive = false;
        if (L_.diverged) L_.diverged[r_] = 1;
      }
      if (L_.record_every == 0) record_if(alive, rec_index++, L_.local, true);
    }
  }

 private:
  /** As the CPU: single shuffle and incremental keep epoch 0's orders; FlipFlop's odd epochs reverse in place. */
  __device__ void next_orders(std::int64_t k) {
    const OrderKind kind = L_.order.kind;
    if (k > 0 && (kind == OrderKind::single_shuffle || kind == OrderKind::incremental)) return;
    if (k % 2 == 1 && (kind == OrderKind::flipflop_rr || kind == OrderKind::flipflop_ss ||
                       kind == OrderKind::flipflop_ig)) {
      for (std::uint32_t m = 0; m < M_; ++m) {
        std::uint32_t* row = order_row(m);
        for (std::uint32_t i = 0, j = N_ - 1; i < j; ++i, --j) {
          const std::uint32_t tmp = row[i];
          row[i] = row[j];
          row[j] = tmp;
        }
      }
      return;
    }
    optcore::fill_epoch_orders(L_.order, L_.seeds[r_], L_.run_ids[r_], r_, static_cast<std::uint32_t>(k),
                               w_.orders, N_, w_.scratch);
  }

  __device__ T step_size(std::int64_t k, std::int64_t t) const {
    const T base = L_.step_table[r_ * L_.epochs + k];
    const T decay = L_.decay[r_];
    return decay == T(0) ? base : base / (T(1) + decay * static_cast<T>(t));
  }

  __device__ std::uint32_t* order_row(std::uint32_t m) const { return w_.orders + static_cast<std::int64_t>(m) * N_; }
  __device__ T* worker_x(std::uint32_t m) const { return w_.workers + static_cast<std::int64_t>(m) * d_; }
  __device__ std::int64_t global_index(std::uint32_t m, std::uint32_t i) const {
    return static_cast<std::int64_t>(m) * N_ + i;
  }
  __device__ void zero(T* v) const {
    for (std::int64_t j = 0; j < d_; ++j) v[j] = T(0);
  }
  __device__ void copy(const T* from, T* to) const {
    for (std::int64_t j = 0; j < d_; ++j) to[j] = from[j];
  }

  __device__ void batch_step(const std::uint32_t* idx, std::uint32_t b, std::uint32_t m, T* x, T eta) {
    if (b == 1) {
      p_.step(global_index(m, idx[0]), x, eta, w_.tmp);
      return;
    }
    zero(w_.grad);
    add_batch_grad(idx, b, m, x, w_.grad);
    optcore::axpy(-eta / static_cast<T>(b), w_.grad, x, d_);
  }

  __device__ void add_batch_grad(const std::uint32_t* idx, std::uint32_t b, std::uint32_t m, const T* x, T* g) {
    for (std::uint32_t j = 0; j < b; ++j) p_.add_grad(global_index(m, idx[j]), x, g, T(1));
  }

  __device__ void average_workers(T* out, bool broadcast) {
    zero(out);
    for (std::uint32_t m = 0; m < M_; ++m) optcore::axpy(T(1), worker_x(m), out, d_);
    optcore::scale(T(1) / static_cast<T>(M_), out, d_);
    if (broadcast)
      for (std::uint32_t m = 0; m < M_; ++m) copy(out, worker_x(m));
  }

  __device__ bool all_finite(const T* x) const {
    for (std::int64_t j = 0; j < d_; ++j)
      if (!isfinite(x[j])) return false;
    return true;
  }

  /** A record point: nothing for a diverged run (its records stay NaN); between syncs, the workers' average. */
  __device__ void record_if(bool alive, std::int64_t index, bool local, bool synced) {
    if (!alive) return;
    const T* x = x_;
    if (local && !synced) {
      average_workers(w_.tmp, false);
      x = w_.tmp;
    }
    record(index, x);
  }

  __device__ void record(std::int64_t index, const T* x) {
    const std::int64_t at = r_ * L_.records + index;
    if (L_.objective) L_.objective[at] = p_.objective(x);
    if (L_.gap) {
      if (L_.hessian) {
        for (std::int64_t j = 0; j < d_; ++j) w_.grad[j] = x[j] - L_.x_star[j];
        L_.gap[at] = optcore::half_quadratic_form(L_.hessian, w_.grad, d_);
      } else {
        L_.gap[at] = (L_.objective ? L_.objective[at] : p_.objective(x)) - L_.f_star;
      }
    }
    if (L_.dist) L_.dist[at] = optcore::euclidean_distance(x, L_.x_star, d_);
    if (L_.iterates)
      for (std::int64_t j = 0; j < d_; ++j) L_.iterates[at * d_ + j] = x[j];
  }

  const P& p_;
  const Loop<T>& L_;
  Work<T> w_;
  std::int64_t r_;
  T* x_;
  std::int64_t d_;
  std::uint32_t M_, N_;
};

/** The problem view of a kind from the kernel's problem arguments (the CPU's run_problem.hpp, for the GPU). */
template <class T, int Kind>
struct MakeProblem;
template <class T>
struct MakeProblem<T, 0> {
  __device__ static optcore::LeastSquares<T> make(const T* A, const T* b, std::int64_t n, std::int64_t d, T l2, T, T,
                                                  T, T) {
    return optcore::LeastSquares<T>{A, b, n, d, l2};
  }
};
template <class T>
struct MakeProblem<T, 1> {
  __device__ static optcore::Logistic<T> make(const T* A, const T* b, std::int64_t n, std::int64_t d, T l2, T, T, T,
                                              T) {
    return optcore::Logistic<T>{A, b, n, d, l2};
  }
};
template <class T>
struct MakeProblem<T, 2> {
  __device__ static optcore::Exponential<T> make(const T* A, const T* b, std::int64_t n, std::int64_t d, T l2, T, T,
                                                 T, T) {
    return optcore::Exponential<T>{A, b, n, d, l2};
  }
};
template <class T>
struct MakeProblem<T, 3> {
  __device__ static optcore::Quadratic<T> make(const T* A, const T* b, std::int64_t n, std::int64_t d, T, T, T, T,
                                               T) {
    return optcore::Quadratic<T>{A, b, n, d};
  }
};
template <class T>
struct MakeProblem<T, 4> {
  __device__ static optcore::LowerBound1D<T> make(const T*, const T* b, std::int64_t n, std::int64_t, T, T L, T mu,
                                                  T nu, T z_mean) {
    return optcore::LowerBound1D<T>{b, n, L, mu, nu, z_mean};
  }
};

// The generalized linear losses; Huber's delta travels in the slot of the lower-bound constant nu (sgd.py).
template <class T>
struct MakeProblem<T, 5> {
  __device__ static optcore::HuberRegression<T> make(const T* A, const T* b, std::int64_t n, std::int64_t d, T l2, T,
                                                     T, T delta, T) {
    return optcore::HuberRegression<T>{A, b, n, d, l2, delta};
  }
};
template <class T>
struct MakeProblem<T, 6> {
  __device__ static optcore::SquaredHinge<T> make(const T* A, const T* b, std::int64_t n, std::int64_t d, T l2, T, T,
                                                  T, T) {
    return optcore::SquaredHinge<T>{A, b, n, d, l2, T(0)};
  }
};
template <class T>
struct MakeProblem<T, 7> {
  __device__ static optcore::PoissonRegression<T> make(const T* A, const T* b, std::int64_t n, std::int64_t d, T l2,
                                                       T, T, T, T) {
    return optcore::PoissonRegression<T>{A, b, n, d, l2, T(0)};
  }
};

template <class T, int Kind>
__device__ void sgd_runs(
    // problem
    const T* A, const T* b, std::int64_t n, std::int64_t d, T l2, T L_const, T mu, T nu, T z_mean,
    // orders
    int kind, std::uint32_t workers, std::uint32_t per_worker, std::uint32_t count, const std::uint32_t* base,
    const std::int64_t* explicit_orders, std::int64_t explicit_runs, std::int64_t explicit_epochs,
    // loop
    std::int64_t epochs, std::uint32_t batch, int local, std::int64_t sync_every, std::int64_t record_every,
    std::int64_t steps, std::int64_t records,
    // runs
    std::int64_t runs, const std::uint64_t* seeds, const std::uint32_t* run_ids, T* x, const T* step_table,
    const T* decay,
    // recording
    const T* x_star, const T* hessian, int has_f_star, T f_star, T* gap, T* dist, T* objective, T* iterates,
    std::uint8_t* diverged,
    // this launch's runs [first_run, first_run + launch_runs), and their scratch, one slice per thread
    std::int64_t first_run, std::int64_t launch_runs, std::uint32_t* order_buf, std::uint32_t* scratch_buf,
    T* grad_buf, T* tmp_buf, T* worker_buf) {
  const std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t r = first_run + t;
  if (t >= launch_runs || r >= runs) return;
  Loop<T> loop;
  loop.order.kind = static_cast<OrderKind>(kind);
  loop.order.workers = workers;
  loop.order.per_worker = per_worker;
  loop.order.count = count;
  loop.order.base = base;
  loop.order.explicit_orders = explicit_orders;
  loop.order.explicit_runs = explicit_runs;
  loop.order.explicit_epochs = explicit_epochs;
  loop.epochs = epochs;
  loop.steps = steps;
  loop.records = records;
  loop.record_every = record_every;
  loop.sync_every = sync_every;
  loop.batch = batch;
  loop.local = local != 0;
  loop.seeds = seeds;
  loop.run_ids = run_ids;
  loop.step_table = step_table;
  loop.decay = decay;
  loop.x_star = x_star;
  loop.hessian = hessian;
  loop.has_f_star = has_f_star;
  loop.f_star = f_star;
  loop.gap = gap;
  loop.dist = dist;
  loop.objective = objective;
  loop.iterates = iterates;
  loop.diverged = diverged;
  const std::int64_t M = workers, N = per_worker;
  Work<T> w;
  w.orders = order_buf + t * M * N;
  w.scratch = scratch_buf + t * (N + M);
  w.grad = grad_buf + t * d;
  w.tmp = tmp_buf + t * d;
  w.workers = worker_buf ? worker_buf + t * M * d : nullptr;
  const auto problem = MakeProblem<T, Kind>::make(A, b, n, d, l2, L_const, mu, nu, z_mean);
  RunOne<T, decltype(problem)>(problem, loop, w, r, x + r * d, d).run();
}

}  // namespace optcore_cuda

// One kernel per compile, for the problem kind and dtype the defines name (the Python side compiles and caches one
// module per (kind, dtype, device), which keeps each NVRTC compile small). Problem kinds: 0 least squares,
// 1 logistic, 2 exponential, 3 quadratic, 4 lower bound, 5 Huber, 6 squared hinge, 7 Poisson. Without defines: least
// squares in double.
#ifndef OPTCORE_SGD_REAL
#define OPTCORE_SGD_REAL double
#endif
#ifndef OPTCORE_SGD_PROBLEM
#define OPTCORE_SGD_PROBLEM 0
#endif

#define OPTCORE_SGD_KERNEL(NAME, T, KIND)                                                                           \
  extern "C" __global__ void NAME(                                                                                  \
      const T* A, const T* b, std::int64_t n, std::int64_t d, T l2, T L_const, T mu, T nu, T z_mean, int kind,       \
      std::uint32_t workers, std::uint32_t per_worker, std::uint32_t count, const std::uint32_t* base,              \
      const std::int64_t* explicit_orders, std::int64_t explicit_runs, std::int64_t explicit_epochs,                \
      std::int64_t epochs, std::uint32_t batch, int local, std::int64_t sync_every, std::int64_t record_every,      \
      std::int64_t steps, std::int64_t records, std::int64_t runs, const std::uint64_t* seeds,                      \
      const std::uint32_t* run_ids, T* x, const T* step_table, const T* decay, const T* x_star, const T* hessian,   \
      int has_f_star, T f_star, T* gap, T* dist, T* objective, T* iterates, std::uint8_t* diverged,                 \
      std::int64_t first_run, std::int64_t launch_runs, std::uint32_t* order_buf, std::uint32_t* scratch_buf,       \
      T* grad_buf, T* tmp_buf, T* worker_buf) {                                                                     \
    optcore_cuda::sgd_runs<T, KIND>(A, b, n, d, l2, L_const, mu, nu, z_mean, kind, workers, per_worker, count,      \
                                    base, explicit_orders, explicit_runs, explicit_epochs, epochs, batch, local,     \
                                    sync_every, record_every, steps, records, runs, seeds, run_ids, x, step_table,  \
                                    decay, x_star, hessian, has_f_star, f_star, gap, dist, objective, iterates,     \
                                    diverged, first_run, launch_runs, order_buf, scratch_buf, grad_buf, tmp_buf,     \
                                    worker_buf);                                                                    \
  }

OPTCORE_SGD_KERNEL(optcore_sgd, OPTCORE_SGD_REAL, OPTCORE_SGD_PROBLEM)
