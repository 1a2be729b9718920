/** @file engine.hpp
 *  The batched gradient loop: R independent SGD runs of one finite-sum problem in one call.
 *
 *  Every run has its own stream (seed, run id), step-size table and initial point; all runs share the order kind,
 *  epochs, batch size and worker layout. Runs are split into contiguous chunks, one per thread, and each chunk is
 *  advanced in lock-step groups of runs (8, or up to kMaxGroup for the vector-lane kernels) so that the CPU
 *  overlaps their independent dependency chains.
 *  A run's arithmetic is the same whatever its group, chunk or thread, so results are bitwise identical for any
 *  thread count and for a run computed alone or inside a batch.
 */
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "optcore/config.hpp"
#include "optcore/kernels.hpp"
#include "optcore/lanes.hpp"
#include "optcore/isa.hpp"
#include "optcore/orders.hpp"
#include "optcore/stop.hpp"
#include "optcore/types.hpp"

namespace optcore {
OPTCORE_ISA_BEGIN

namespace detail {

/** Whether a problem reports a classification accuracy (networks). */
template <class P, class = void>
struct HasAccuracy : std::false_type {};
template <class P>
struct HasAccuracy<P, std::void_t<decltype(std::declval<const P&>().accuracy(nullptr))>> : std::true_type {};

/** Whether a problem computes the summed gradient of a batch in one pass (networks). */
template <class P, class = void>
struct HasBatchGrad : std::false_type {};
template <class P>
struct HasBatchGrad<P, std::void_t<decltype(std::declval<const P&>().add_grad_batch(nullptr, 0, 0, nullptr, nullptr,
                                                                                    {}))>> : std::true_type {};

/**
 * Whether a problem's full-batch gradient pass can also give its objective (networks, MLP::batch_objective_matches()).
 * A problem that also reports an accuracy (HasAccuracy) takes a seventh argument: where to put the accuracy from the
 * same pass (null: not asked for), and then the objective's pointer may be null too.
 */
template <class P, class = void>
struct HasBatchObjective : std::false_type {};
template <class P>
struct HasBatchObjective<P, std::void_t<decltype(std::declval<const P&>().add_grad_batch_objective(
                                 nullptr, 0, nullptr, nullptr, {}, nullptr))>> : std::true_type {};

/**
 * Whether a problem computes its objective and its accuracy at one point in one pass over the data
 * (objective_and_accuracy(x, &objective, &accuracy), the bits of objective(x) and accuracy(x)).
 */
template <class P, class = void>
struct HasObjectiveAndAccuracy : std::false_type {};
template <class P>
struct HasObjectiveAndAccuracy<P, std::void_t<decltype(std::declval<const P&>().objective_and_accuracy(
                                      nullptr, nullptr, nullptr))>> : std::true_type {};

/**
 * Whether a problem has its own update of x with a summed gradient (UpdateStep: step size, count, epoch) instead
 * of x <- x - (eta / count) grad: quantized networks blend toward Q(x) with a per-epoch rho and clip the learned
 * resolutions' steps (mlp_quant.hpp, mlp_alpha.hpp). Such a problem needs no step(): every step, batch 1
 * included, is its gradient and then its update.
 */
template <class P, class = void>
struct HasUpdate : std::false_type {};
template <class P>
struct HasUpdate<P, std::void_t<decltype(std::declval<const P&>().update(nullptr, nullptr, {}))>> : std::true_type {};

/**
 * Problems that compute the batch gradients of a whole group of runs in one pass when the runs share their order
 * (mlp_lanes.hpp specializes it for networks): used when `pays(problem)` and at least kMinRuns runs of a group
 * are alive. `grads` (and the objective and accuracy it can give from its forward pass) and `record` must give
 * each run the bits of its own add_grad_batch(), objective() and accuracy(), so which pass ran never shows in the
 * results.
 */
template <class Problem>
struct GroupBatchGrad {
  static constexpr bool available = false;
};

template <class T, class Problem>
class GroupRunner {
 public:
  static constexpr int kGroup = 8;  ///< runs per group
  /// Chunks of kLaneWidth runs that the vector-lane kernels advance together (lane_steps), and so the most runs in
  /// one group: the latency of one chunk's chain of dependent operations, not the arithmetic, would bound them.
  static constexpr int kLaneChunks = 4;
  static constexpr int kMaxGroup = 32;

  GroupRunner(const Problem& problem, const LoopSpec& spec, const RunArrays<T>& runs, const Recording<T>& rec)
      : p_(problem), spec_(spec), runs_(runs), rec_(rec), d_(runs.dim), M_(spec.order.workers),
        N_(spec.order.per_worker) {
    const OrderKind kind = spec.order.kind;
    shared_order_ = kind == OrderKind::incremental || kind == OrderKind::flipflop_ig ||
                    (kind == OrderKind::explicit_order && spec.order.explicit_runs == 1);
    group_ = lane_kernels(spec) ? lane_group() : kGroup;
    check_every_ = std::max<std::int64_t>(1, kWorkPerCheck / (std::max<std::int64_t>(d_, 1) * group_));
    orders_.resize(static_cast<std::size_t>(shared_order_ ? 1 : group_) * M_ * N_);  // shared: one copy
    order_scratch_.resize(static_cast<std::size_t>(N_) + M_);
    grad_.resize(d_);
    tmp_.resize(d_);
    if (spec.mode == WorkerMode::local) workers_.resize(static_cast<std::size_t>(group_) * M_ * d_);
    // Full-batch steps recording the objective and/or the accuracy (at epoch ends, or every record_every steps):
    // the records at the point reached by step t are computed by the forward pass of step t + 1's gradient, not by
    // a pass of their own (the last record, with no step after it, by its own pass). Every step's batch must hold
    // every example exactly once (an order that is a permutation, no examples dropped).
    const bool full_batch_records =
        spec.steps_per_epoch() == 1 && spec.batch > 1 && spec.batch == spec.order.count && spec.order.count == N_ &&
        M_ == 1 && spec.mode != WorkerMode::local && kind != OrderKind::with_replacement &&
        kind != OrderKind::explicit_order && (rec.objective || rec.accuracy) && !rec.gap && !rec.dist &&
        !rec.iterates;
    // the group pass steps x <- x - (eta / count) g itself: a problem with its own update must not have one
    static_assert(!(GroupBatchGrad<Problem>::available && HasUpdate<Problem>::value),
                  "a problem with its own update() would skip it in GroupBatchGrad's group pass");
    if constexpr (GroupBatchGrad<Problem>::available) {
      group_batches_ = shared_order_ && M_ == 1 && spec.mode != WorkerMode::local && GroupBatchGrad<Problem>::pays(problem);
      if (group_batches_) group_grads_.resize(static_cast<std::size_t>(group_) * d_);
      // ... in the group pass (GroupBatchGrad::grads)
      fused_group_ = group_batches_ && full_batch_records;
    }
    if constexpr (HasBatchObjective<Problem>::value) {
      // ... in each run's own gradient pass (runs alone, groups too small for the group pass); the two agree
      fused_single_ = full_batch_records && problem.batch_objective_matches() && (!group_batches_ || fused_group_);
    }
  }

  /** Whether records at points a full-batch step follows come from that step's gradient pass. */
  bool fused_records() const { return fused_group_ || fused_single_; }

  /** Runs per group: run_group() takes at most this many. */
  int group_size() const { return group_; }

  /** Runs [first, first + count), count <= group_size(), from start to finish. */
  void run_group(std::int64_t first, int count) {
    const std::int64_t K = spec_.epochs, steps = spec_.steps_per_epoch();
    const std::uint32_t B = spec_.batch, count_per_worker = spec_.order.count;
    const bool local = spec_.mode == WorkerMode::local;
    bool alive[kMaxGroup];
    for (int g = 0; g < count; ++g) {
      alive[g] = true;
      if (local)
        for (std::uint32_t m = 0; m < M_; ++m) std::copy_n(x_of(first + g), d_, worker_x(g, m));
      record(first + g, 0, x_of(first + g));
    }
    std::int64_t t = 0, rec_index = 1;
    for (std::int64_t k = 0; k < K; ++k) {
      checkpoint(spec_.stop);
      next_orders(first, count, k);
      if constexpr (!HasUpdate<Problem>::value) {
        if (!local && M_ == 1 && B == 1) {
          plain_epoch(first, count, k, t, rec_index, alive);
          end_epoch(first, count, alive, rec_index, local);
          continue;
        }
      }
      for (std::int64_t s = 0; s < steps; ++s) {
        checkpoint(spec_.stop);  // a batch step of the group is a chunk of work
        const std::uint32_t lo = static_cast<std::uint32_t>(s) * B;
        const std::uint32_t b = std::min(B, count_per_worker - lo);
        const bool sync = local && ((s + 1) % spec_.sync_every == 0 || s + 1 == steps);
        if (!(group_batches_ && b > 1 && group_batch_step(first, count, alive, lo, b, k, t))) {
          if (!fused_single_) settle_pending_records(first, count, alive);  // else each run's gradient pass does
          for (int g = 0; g < count; ++g) {
            if (!alive[g]) continue;
            const std::int64_t r = first + g;
            const T eta = step_size(r, k, t);
            if (local) {
              for (std::uint32_t m = 0; m < M_; ++m) batch_step(order_row(g, m) + lo, b, m, worker_x(g, m), eta, k);
              if (sync) average_workers(g, x_of(r), true);
            } else if (M_ == 1 && b == 1) {
              single_step(order_row(g, 0)[lo], x_of(r), eta, k);
            } else {
              std::fill(grad_.begin(), grad_.end(), T(0));
              if (fused_single_ && pending_record_ >= 0) {
                T objective, accuracy;
                T* const obj = rec_.objective ? &objective : nullptr;
                T* const acc = rec_.accuracy ? &accuracy : nullptr;
                if (!add_batch_grad_records(order_row(g, 0) + lo, b, x_of(r), grad_.data(), obj, acc))
                  record_values(x_of(r), obj, acc);  // this order's forward pass is not the records'
                store_pending(r, obj, acc);
              } else {
                for (std::uint32_t m = 0; m < M_; ++m) add_batch_grad(order_row(g, m) + lo, b, m, x_of(r), grad_.data());
              }
              update(x_of(r), grad_.data(), eta, static_cast<std::int64_t>(M_) * b, k);
            }
          }
          if (fused_single_) pending_record_ = -1;
        }
        ++t;
        if (spec_.record_every > 0 && t % spec_.record_every == 0) {
          defer_records_ = fused_records() && t < spec_.total_steps();  // a step follows (full batch: t = k + 1)
          record_all(first, count, alive, rec_index++, local, sync);
          defer_records_ = false;
        }
      }
      defer_records_ = fused_records() && k + 1 < K;
      end_epoch(first, count, alive, rec_index, local);
      defer_records_ = false;
    }
  }

 private:
  /**
   * One batch step of every live run of the group, whose runs share the order: their gradients in one pass.
   * Returns false, doing nothing, when too few runs are alive for the pass to pay (the per-run pass gives the
   * same bits).
   */
  bool group_batch_step(std::int64_t first, int count, const bool* alive, std::uint32_t lo, std::uint32_t b,
                        std::int64_t k, std::int64_t t) {
    if constexpr (GroupBatchGrad<Problem>::available) {
      const T* thetas[kMaxGroup];
      T* grads[kMaxGroup];
      std::int64_t runs[kMaxGroup];
      const int live = live_runs(first, count, alive, runs, thetas);
      for (int j = 0; j < live; ++j) grads[j] = group_grads_.data() + static_cast<std::size_t>(j) * d_;
      if (live < GroupBatchGrad<Problem>::kMinRuns) {
        if (!fused_single_) settle_pending_records(first, count, alive);  // else the per-run passes give them
        return false;
      }
      T objective[kMaxGroup], accuracy[kMaxGroup];
      const bool pending = pending_record_ >= 0;
      T* const obj = pending && rec_.objective ? objective : nullptr;
      T* const acc = pending && rec_.accuracy ? accuracy : nullptr;
      GroupBatchGrad<Problem>::grads(p_, order_row(0, 0) + lo, b, global_index(0, 0), thetas, grads, live, obj, acc);
      if (pending) {
        for (int j = 0; j < live; ++j) store_pending(runs[j], obj ? obj + j : nullptr, acc ? acc + j : nullptr);
        pending_record_ = -1;
      }
      for (int j = 0; j < live; ++j)
        axpy(-step_size(runs[j], k, t) / static_cast<T>(b), grads[j], x_of(runs[j]), d_);
      return true;
    }
    return false;
  }

  /**
   * The group's orders for epoch k. Orders that repeat are not regenerated: single shuffle and incremental keep
   * the buffer of epoch 0, and FlipFlop's odd epochs reverse the buffer in place -- the same indices
   * fill_epoch_orders() would give, without drawing the permutation again.
   */
  void next_orders(std::int64_t first, int count, std::int64_t k) {
    const OrderKind kind = spec_.order.kind;
    const bool repeat = k > 0 && (kind == OrderKind::single_shuffle || kind == OrderKind::incremental);
    const bool flip = k % 2 == 1 && (kind == OrderKind::flipflop_rr || kind == OrderKind::flipflop_ss ||
                                     kind == OrderKind::flipflop_ig);
    for (int g = 0; g < (shared_order_ ? 1 : count); ++g) {  // runs that share their order share one copy
      if (repeat) continue;
      if (flip) {
        for (std::uint32_t m = 0; m < M_; ++m) std::reverse(order_row(g, m), order_row(g, m) + N_);
        continue;
      }
      const std::int64_t r = first + g;
      fill_epoch_orders(spec_.order, runs_.seeds[r], runs_.run_ids[r], r, static_cast<std::uint32_t>(k),
                        order_row(g, 0), N_, order_scratch_.data());
    }
  }

  /**
   * Divergence check and epoch-end record of the group. A run found diverged here whose record waits for the next
   * gradient pass (recorded every record_every steps, before this check) gets it from a pass of its own now: the
   * group's next passes skip it.
   */
  void end_epoch(std::int64_t first, int count, bool* alive, std::int64_t& rec_index, bool local) {
    for (int g = 0; g < count; ++g) {
      if (alive[g] && !all_finite(x_of(first + g))) {
        if (pending_record_ >= 0) settle_pending_record(first + g);
        alive[g] = false;
        if (rec_.diverged) rec_.diverged[first + g] = 1;
      }
    }
    if (spec_.record_every == 0) record_all(first, count, alive, rec_index++, local, true);
  }

  /**
   * One epoch of plain SGD (one worker, batch 1): the hot path, with every loop-invariant hoisted. The runs of
   * the group advance in lock-step, so the CPU overlaps their independent chains of dependent operations.
   * A run that has diverged keeps computing on non-finite numbers until the epoch ends; that changes nothing
   * it reports (its records are NaN from the divergence on) and keeps this loop branch-free.
   */
  void plain_epoch(std::int64_t first, int count, std::int64_t k, std::int64_t& t, std::int64_t& rec_index,
                   const bool* alive) {
    const std::int64_t steps = spec_.steps_per_epoch();
    const std::uint32_t* rows[kMaxGroup];
    T* xs[kMaxGroup];
    T etas[kMaxGroup];
    bool decaying = false;
    for (int g = 0; g < count; ++g) {
      rows[g] = order_row(g, 0);
      xs[g] = x_of(first + g);
      etas[g] = base_step(first + g, k);
      decaying = decaying || runs_.decay[first + g] != T(0);
    }
    T* tmp = tmp_.data();
    if (decaying) {
      for (std::int64_t s = 0; s < steps; ++s) {
        if (s % check_every_ == 0) checkpoint(spec_.stop);
        for (int g = 0; g < count; ++g) p_.step(rows[g][s], xs[g], step_size(first + g, k, t), tmp);
        ++t;
        if (spec_.record_every > 0 && t % spec_.record_every == 0) record_all(first, count, alive, rec_index++, false, true);
      }
      return;
    }
    const PlainSteps steps_fn = steps_for(d_, shared_order_);
    for (std::int64_t s = 0; s < steps;) {  // in stretches between record points, at most check_every_ steps
      checkpoint(spec_.stop);
      const std::int64_t until = std::min(spec_.record_every > 0
                                              ? std::min(steps, s + spec_.record_every - t % spec_.record_every)
                                              : steps,
                                          s + check_every_);
      steps_fn(p_, rows, xs, etas, count, s, until, tmp);
      t += until - s;
      s = until;
      if (spec_.record_every > 0 && t % spec_.record_every == 0) record_all(first, count, alive, rec_index++, false, true);
    }
  }

  /** Steps [s0, s1) of plain SGD for the group; D > 0 fixes the dimension at compile time. */
  using PlainSteps = void (*)(const Problem&, const std::uint32_t* const*, T* const*, const T*, int, std::int64_t,
                              std::int64_t, T*);

  template <int D>
  static void plain_steps(const Problem& p, const std::uint32_t* const* rows, T* const* xs, const T* etas, int count,
                          std::int64_t s0, std::int64_t s1, T* tmp) {
    for (std::int64_t s = s0; s < s1; ++s) {
      if constexpr (D > 0) {
        for (int g = 0; g < count; ++g) p.template step_d<D>(rows[g][s], xs[g], etas[g]);
      } else {
        for (int g = 0; g < count; ++g) p.step(rows[g][s], xs[g], etas[g], tmp);
      }
    }
  }

  /**
   * For dimensions up to kMaxFixedDim the linear models get a kernel with d known at compile time: the dot
   * product and update unroll completely, which makes the step about 1.6x faster at d = 20. The arithmetic is
   * the same as with a run-time d (same lanes, same order), so results do not depend on which kernel ran.
   */
  static constexpr int kMaxFixedDim = 32;

  /** The kernel of one dimension: lanes when the runs share their order, else runs interleaved in fours. */
  template <bool Shared, int D>
  static void steps_kernel(const Problem& p, const std::uint32_t* const* rows, T* const* xs, const T* etas,
                           int count, std::int64_t s0, std::int64_t s1, T* tmp) {
    if constexpr (Shared) {
      lane_steps<D>(p, rows, xs, etas, count, s0, s1, tmp);
    } else if constexpr (D > 0) {
      int g = 0;
      for (; g + kInterleave <= count; g += kInterleave)
        interleaved_steps<D, kInterleave>(p, rows + g, xs + g, etas + g, s0, s1);
      if (g < count) plain_steps<D>(p, rows + g, xs + g, etas + g, count - g, s0, s1, tmp);
    } else {
      plain_steps<D>(p, rows, xs, etas, count, s0, s1, tmp);
    }
  }

  /// Runs with orders of their own that interleaved_steps() advances together.
  static constexpr int kInterleave = 4;

  /**
   * Steps [s0, s1) of C runs with orders of their own (random orders), d = D known at compile time: each step
   * gathers the C rows, then does the C dot products, the C coefficients and the C updates, so the runs'
   * independent chains (dot product, coefficient, update) overlap. The iterates live in a local copy for the
   * stretch: the compiler then knows they alias neither the data nor each other and keeps the chains interleaved.
   * Each run's arithmetic is step_d()'s -- the same dot(), step_coef(), scale() and axpy() -- so the bits are
   * those of one run at a time.
   */
  template <int D, int C>
  static void interleaved_steps(const Problem& p, const std::uint32_t* const* rows, T* const* xs, const T* etas,
                                std::int64_t s0, std::int64_t s1) {
    alignas(64) T x[C][D];
    T eta[C], shrink[C];
    for (int c = 0; c < C; ++c) {
      std::copy_n(xs[c], D, x[c]);
      eta[c] = etas[c];
      shrink[c] = T(1) - eta[c] * p.l2;  // step_d()'s ridge factor
    }
    const bool ridge = p.l2 != T(0);
    for (std::int64_t s = s0; s < s1; ++s) {
      const T* a[C];
      std::int64_t i[C];
      T coef[C];
      for (int c = 0; c < C; ++c) {
        i[c] = rows[c][s];
        a[c] = p.A + i[c] * D;
      }
      for (int c = 0; c < C; ++c) coef[c] = p.step_coef(i[c], dot(a[c], x[c], D), eta[c]);
      if (ridge)
        for (int c = 0; c < C; ++c) scale(shrink[c], x[c], D);
      for (int c = 0; c < C; ++c) axpy(coef[c], a[c], x[c], D);
    }
    for (int c = 0; c < C; ++c) std::copy_n(x[c], D, xs[c]);
  }

  template <bool Shared, std::size_t... D>
  static PlainSteps kernel_table(std::int64_t d, std::index_sequence<D...>) {
    constexpr PlainSteps table[] = {&steps_kernel<Shared, static_cast<int>(D)>...};
    return table[d];
  }

  /** The kernel for dimension d: compile-time d up to kMaxFixedDim for the linear models, else run-time d. */
  static PlainSteps steps_for(std::int64_t d, bool shared) {
    if constexpr (Problem::kFixedDimKernels) {
      constexpr auto dims = std::make_index_sequence<kMaxFixedDim + 1>{};
      if (d >= 1 && d <= kMaxFixedDim) return shared ? kernel_table<true>(d, dims) : kernel_table<false>(d, dims);
    }
    return &plain_steps<0>;
  }

  /** Whether plain epochs go through the vector-lane kernels (lane_steps) for this loop. */
  bool lane_kernels(const LoopSpec& spec) const {
#ifdef OPTCORE_HAVE_LANES
    if constexpr (Problem::kFixedDimKernels)
      return shared_order_ && d_ >= 1 && d_ <= kMaxFixedDim && M_ == 1 && spec.mode != WorkerMode::local &&
             spec.batch == 1;
#endif
    (void)spec;
    return false;
  }

  static constexpr int lane_group() {
#ifdef OPTCORE_HAVE_LANES
    static_assert(kLaneChunks * kLaneWidth<T> <= kMaxGroup, "kMaxGroup too small for the lane kernels");
    return kLaneChunks * kLaneWidth<T>;
#else
    return kGroup;
#endif
  }

  /**
   * Steps [s0, s1) for a group whose runs all visit the same component at every step: the iterates are
   * transposed into vector lanes (lanes.hpp), stepped together by lanes_steps(), and transposed back. Lanes
   * beyond `count` hold zeros with step size 0 and are discarded. Three or four chunks in use run together (one
   * padded), one or two one after the other: a kernel for every chunk count would add about a minute of compile
   * time per instruction set for a gain of about 10% (two chunks together against one after the other).
   */
  template <int D>
  static void lane_steps(const Problem& p, const std::uint32_t* const* rows, T* const* xs, const T* etas, int count,
                         std::int64_t s0, std::int64_t s1, T* tmp) {
#ifdef OPTCORE_HAVE_LANES
    if constexpr (D > 0 && Problem::kFixedDimKernels) {
      using V = LaneVec<T>;
      constexpr int W = kLaneWidth<T>;
      const int used = (count + W - 1) / W;
      if (used <= kLaneChunks) {
        alignas(sizeof(V)) V xt[kLaneChunks][D];
        V eta[kLaneChunks];
        for (int c = 0; c < kLaneChunks; ++c) {
          eta[c] = V{} * T(0);
          for (int j = 0; j < D; ++j) xt[c][j] = V{} * T(0);
          for (int l = 0; l < W && c * W + l < count; ++l) {
            eta[c][l] = etas[c * W + l];
            for (int j = 0; j < D; ++j) xt[c][j][l] = xs[c * W + l][j];
          }
        }
        const auto coef = [&p](std::int64_t i, V z, V e) { return p.lanes_coef(i, z, e); };
        if (used <= 2)
          for (int c = 0; c < used; ++c) lanes_steps<T, D, 1>(p.A, rows[0], s0, s1, xt + c, eta + c, p.l2, coef);
        else
          lanes_steps<T, D, kLaneChunks>(p.A, rows[0], s0, s1, xt, eta, p.l2, coef);
        for (int g = 0; g < count; ++g)
          for (int j = 0; j < D; ++j) xs[g][j] = xt[g / W][j][g % W];
        return;
      }
    }
#endif
    plain_steps<D>(p, rows, xs, etas, count, s0, s1, tmp);
  }

  T* x_of(std::int64_t r) const { return runs_.x + r * d_; }
  std::uint32_t* order_row(int g, std::uint32_t m) {
    return orders_.data() + (static_cast<std::size_t>(shared_order_ ? 0 : g) * M_ + m) * N_;
  }
  T* worker_x(int g, std::uint32_t m) { return workers_.data() + (static_cast<std::size_t>(g) * M_ + m) * d_; }
  std::int64_t global_index(std::uint32_t m, std::uint32_t i) const { return static_cast<std::int64_t>(m) * N_ + i; }

  T base_step(std::int64_t r, std::int64_t k) const {
    return runs_.step_table[r * runs_.step_run_stride + k * runs_.step_epoch_stride];
  }

  T step_size(std::int64_t r, std::int64_t k, std::int64_t t) const {
    const T base = base_step(r, k);
    const T decay = runs_.decay[r];
    return decay == T(0) ? base : base / (T(1) + decay * static_cast<T>(t));
  }

  /** One local step of worker m on its own copy, in epoch k: batch of b local indices. */
  void batch_step(const std::uint32_t* idx, std::uint32_t b, std::uint32_t m, T* x, T eta, std::int64_t k) {
    if (b == 1) {
      single_step(global_index(m, idx[0]), x, eta, k);
      return;
    }
    std::fill(grad_.begin(), grad_.end(), T(0));
    add_batch_grad(idx, b, m, x, grad_.data());
    update(x, grad_.data(), eta, b, k);
  }

  /** One step on component i in epoch k: the problem's step(), or its gradient and then its update (HasUpdate). */
  void single_step(std::int64_t i, T* x, T eta, std::int64_t k) {
    if constexpr (HasUpdate<Problem>::value) {
      std::fill(grad_.begin(), grad_.end(), T(0));
      p_.add_grad(i, x, grad_.data(), T(1));
      p_.update(x, grad_.data(), UpdateStep<T>{eta, T(1), k});
    } else {
      (void)k;
      p_.step(i, x, eta, tmp_.data());
    }
  }

  /** x -= (eta / count) grad for the sum `grad` of count component gradients, or the problem's own update of x
   *  with it in epoch k (HasUpdate). */
  void update(T* x, const T* grad, T eta, std::int64_t count, std::int64_t k) const {
    if constexpr (HasUpdate<Problem>::value) {
      p_.update(x, grad, UpdateStep<T>{eta, static_cast<T>(count), k});
    } else {
      (void)k;
      axpy(-eta / static_cast<T>(count), grad, x, d_);
    }
  }

  /** g += sum of the gradients of worker m's components idx[0..b): batched where the problem can (networks). */
  void add_batch_grad(const std::uint32_t* idx, std::uint32_t b, std::uint32_t m, const T* x, T* g) {
    if constexpr (HasBatchGrad<Problem>::value) {
      p_.add_grad_batch(idx, b, global_index(m, 0), x, g, T(1));
    } else {
      for (std::uint32_t j = 0; j < b; ++j) p_.add_grad(global_index(m, idx[j]), x, g, T(1));
    }
  }

  /**
   * g += the full batch's gradient (one worker) and, where the problem's gradient pass can give them (the bits of
   * objective(x) and accuracy(x)), *objective and *accuracy (each where not null) at x from the same pass.
   * Returns whether it did.
   */
  bool add_batch_grad_records(const std::uint32_t* idx, std::uint32_t b, const T* x, T* g, T* objective,
                              T* accuracy) {
    if constexpr (HasBatchObjective<Problem>::value) {
      if constexpr (HasAccuracy<Problem>::value) {
        return p_.add_grad_batch_objective(idx, b, x, g, T(1), objective, accuracy);
      } else {
        (void)accuracy;  // recording the accuracy needs a problem that has one (bind_sgd.cpp check_records)
        return p_.add_grad_batch_objective(idx, b, x, g, T(1), objective);
      }
    } else {
      (void)objective, (void)accuracy;
      add_batch_grad(idx, b, 0, x, g);
      return false;
    }
  }

  /** out = mean of the worker copies of group slot g; with broadcast, copy it back to every worker. */
  void average_workers(int g, T* out, bool broadcast) {
    std::fill(out, out + d_, T(0));
    for (std::uint32_t m = 0; m < M_; ++m) axpy(T(1), worker_x(g, m), out, d_);
    scale(T(1) / static_cast<T>(M_), out, d_);
    if (broadcast)
      for (std::uint32_t m = 0; m < M_; ++m) std::copy_n(out, d_, worker_x(g, m));
  }

  bool all_finite(const T* x) const { return optcore::all_finite(x, d_); }

  void record_all(std::int64_t first, int count, const bool* alive, std::int64_t index, bool local, bool synced) {
    checkpoint(spec_.stop);  // records can take a full pass over the data each
    if (defer_records_) {  // filled in by the next step's gradient pass (group_batch_step, or each run's)
      for (int g = 0; g < count; ++g)
        if (!alive[g]) record_nan(first + g, index);
      pending_record_ = index;
      return;
    }
    if constexpr (GroupBatchGrad<Problem>::available) {
      if (group_batches_ && (rec_.objective || rec_.accuracy) && group_record(first, count, alive, index)) return;
    }
    for (int g = 0; g < count; ++g) {
      const std::int64_t r = first + g;
      if (!alive[g]) {
        record_nan(r, index);
        continue;
      }
      const T* x = x_of(r);
      if (local && !synced) {  // between syncs the theory's iterate is the (virtual) average of the copies
        average_workers(g, tmp_.data(), false);
        x = tmp_.data();
      }
      record(r, index, x);
    }
  }

  /** The live runs of the group and their iterates, in run order; returns how many. */
  int live_runs(std::int64_t first, int count, const bool* alive, std::int64_t* runs, const T** thetas) const {
    int live = 0;
    for (int g = 0; g < count; ++g)
      if (alive[g]) runs[live] = first + g, thetas[live++] = x_of(first + g);
    return live;
  }

  /** Deferred records whose gradient pass did not come (too few live runs): computed on their own. */
  void settle_pending_records(std::int64_t first, int count, const bool* alive) {
    if (pending_record_ < 0) return;
    for (int g = 0; g < count; ++g)
      if (alive[g]) settle_pending_record(first + g);
    pending_record_ = -1;
  }

  /** Run r's deferred records at its current iterate, from a pass of their own. */
  void settle_pending_record(std::int64_t r) {
    T objective, accuracy;
    T* const obj = rec_.objective ? &objective : nullptr;
    T* const acc = rec_.accuracy ? &accuracy : nullptr;
    record_values(x_of(r), obj, acc);
    store_pending(r, obj, acc);
  }

  /** Run r's deferred records (pending_record_): the objective and the accuracy where not null. */
  void store_pending(std::int64_t r, const T* objective, const T* accuracy) {
    const std::int64_t at = r * spec_.records() + pending_record_;
    if (objective) rec_.objective[at] = *objective;
    if (accuracy) rec_.accuracy[at] = *accuracy;
  }

  /**
   * *objective = objective(x) and *accuracy = accuracy(x), each where not null: one pass over the data for both
   * where the problem has it (the same bits as two).
   */
  void record_values(const T* x, T* objective, T* accuracy) const {
    if constexpr (HasAccuracy<Problem>::value) {
      if constexpr (HasObjectiveAndAccuracy<Problem>::value) {
        if (objective && accuracy) return p_.objective_and_accuracy(x, objective, accuracy);
      }
      if (accuracy) *accuracy = p_.accuracy(x);
    } else {
      (void)accuracy;
    }
    if (objective) *objective = p_.objective(x);
  }

  /**
   * record_all() for a group whose objective and accuracy come from one lanes pass (GroupBatchGrad::record);
   * false, doing nothing, when too few runs are alive for it to pay.
   */
  bool group_record(std::int64_t first, int count, const bool* alive, std::int64_t index) {
    if constexpr (GroupBatchGrad<Problem>::available) {
      const T* thetas[kMaxGroup];
      std::int64_t runs[kMaxGroup];
      T objective[kMaxGroup], accuracy[kMaxGroup];
      const int live = live_runs(first, count, alive, runs, thetas);
      if (live < GroupBatchGrad<Problem>::kMinRuns) return false;
      for (int g = 0; g < count; ++g)
        if (!alive[g]) record_nan(first + g, index);
      GroupBatchGrad<Problem>::record(p_, thetas, live, objective, rec_.accuracy ? accuracy : nullptr);
      for (int j = 0; j < live; ++j) record(runs[j], index, thetas[j], &objective[j], &accuracy[j]);
      return true;
    }
    return false;
  }

  /** The records of run r at record point `index`; objective and accuracy are given when already computed. */
  void record(std::int64_t r, std::int64_t index, const T* x, const T* objective = nullptr,
              const T* accuracy = nullptr) {
    const std::int64_t at = r * spec_.records() + index;
    T both[2];
    if (rec_.objective && rec_.accuracy && !objective && !accuracy) {  // one pass for the two where it can
      record_values(x, &both[0], &both[1]);
      objective = &both[0], accuracy = &both[1];
    }
    if (rec_.objective) rec_.objective[at] = objective ? *objective : p_.objective(x);
    if (rec_.gap) {
      if (rec_.hessian) {
        for (std::int64_t j = 0; j < d_; ++j) grad_[j] = x[j] - rec_.x_star[j];
        rec_.gap[at] = half_quadratic_form(rec_.hessian, grad_.data(), d_);
      } else {
        rec_.gap[at] = (rec_.objective ? rec_.objective[at] : p_.objective(x)) - rec_.f_star;
      }
    }
    if (rec_.dist) rec_.dist[at] = euclidean_distance(x, rec_.x_star, d_);
    if (rec_.iterates) std::copy_n(x, d_, rec_.iterates + at * d_);
    if constexpr (HasAccuracy<Problem>::value) {
      if (rec_.accuracy) rec_.accuracy[at] = accuracy ? *accuracy : p_.accuracy(x);
    }
  }

  void record_nan(std::int64_t r, std::int64_t index) {
    const T nan = std::numeric_limits<T>::quiet_NaN();
    const std::int64_t at = r * spec_.records() + index;
    if (rec_.objective) rec_.objective[at] = nan;
    if (rec_.gap) rec_.gap[at] = nan;
    if (rec_.dist) rec_.dist[at] = nan;
    if (rec_.iterates) std::fill_n(rec_.iterates + at * d_, d_, nan);
    if (rec_.accuracy) rec_.accuracy[at] = nan;
  }

  const Problem& p_;
  const LoopSpec& spec_;
  const RunArrays<T>& runs_;
  const Recording<T>& rec_;
  std::int64_t d_;
  std::uint32_t M_, N_;
  std::vector<std::uint32_t> orders_, order_scratch_;
  std::vector<T> grad_, tmp_, workers_;
  bool shared_order_ = false;  ///< every run visits the same components in the same order
  bool group_batches_ = false;  ///< batch gradients of the whole group in one pass (GroupBatchGrad)
  /// The objective and accuracy recorded at the point reached by a full-batch step come from the next step's
  /// gradient pass: in the group pass (GroupBatchGrad::grads) ...
  bool fused_group_ = false;
  bool fused_single_ = false;  ///< ... and in the per-run pass (add_grad_batch_objective)
  bool defer_records_ = false;  ///< the record being written now is one of those
  std::int64_t pending_record_ = -1;  ///< record index waiting for its objective and accuracy, or -1
  std::vector<T> group_grads_;  ///< (group_, d) for group_batch_step()
  int group_ = kGroup;  ///< runs per group
  /// Plain steps of the group between two stop checks: about kWorkPerCheck coordinates updated (a few ms), so a
  /// stop request is seen quickly, while splitting the stretches costs nothing measurable (the lane kernels
  /// transpose the group's iterates once per stretch; the arithmetic is the same).
  static constexpr std::int64_t kWorkPerCheck = std::int64_t(1) << 21;
  std::int64_t check_every_ = 1;
};

using ::optcore::parallel_chunks;  // stop.hpp

}  // namespace detail

/** Validates the shared structure (shapes are the caller's job) and runs all R runs. */
template <class T, class Problem>
void run_sgd(const Problem& problem, LoopSpec spec, const RunArrays<T>& runs, const Recording<T>& rec) {
  const OrderSpec& o = spec.order;
  OPTCORE_CHECK(spec.epochs >= 1, "epochs must be >= 1, got " << spec.epochs);
  OPTCORE_CHECK(o.workers >= 1 && o.per_worker >= 1, "workers and components per worker must be >= 1");
  OPTCORE_CHECK(spec.batch >= 1 && spec.batch <= o.per_worker,
                "batch_size must be in [1, " << o.per_worker << "], got " << spec.batch);
  OPTCORE_CHECK(o.count >= 1 && o.count <= o.per_worker, "indices per epoch must be in [1, N], got " << o.count);
  OPTCORE_CHECK(spec.sync_every >= 1, "sync_every must be >= 1, got " << spec.sync_every);
  OPTCORE_CHECK(spec.record_every >= 0, "record_every must be >= 0, got " << spec.record_every);
  OPTCORE_CHECK(o.kind != OrderKind::syncshuf || o.per_worker % o.workers == 0,
                "syncshuf needs M | N, got M = " << o.workers << ", N = " << o.per_worker);
  OPTCORE_CHECK(o.kind != OrderKind::explicit_order || o.explicit_orders, "explicit order needs an index array");
  detail::parallel_chunks(runs.runs, spec.threads, [&](std::int64_t first, std::int64_t last) {
    detail::GroupRunner<T, Problem> runner(problem, spec, runs, rec);
    const int group = runner.group_size();
    for (std::int64_t r = first; r < last; r += group)
      runner.run_group(r, static_cast<int>(std::min<std::int64_t>(group, last - r)));
  }, spec.stop);
}

OPTCORE_ISA_END
}  // namespace optcore
