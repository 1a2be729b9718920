/** @file types.hpp
 *  Plain data shared by every part of the core: order kinds, the loop's structure, the per-run arrays, what to
 *  record, and a problem's arrays. No code that depends on the instruction set lives here, so these types are the
 *  same in the portable and the AVX2 build of the loops (see isa.hpp).
 */
#pragma once

#include <cstdint>

namespace optcore {

class StopToken;  // stop.hpp

/** Order kinds; the integer values are part of the Python/C++ interface (optcore.orders.ORDER_CODES). */
enum class OrderKind : int {
  with_replacement = 0,    ///< i.i.d. uniform indices
  random_reshuffling = 1,  ///< a fresh uniform permutation every epoch
  single_shuffle = 2,      ///< the epoch-0 permutation reused in every epoch
  incremental = 3,         ///< the base order (identity unless given) in every epoch
  flipflop_rr = 4,         ///< RR on even epochs, the previous epoch reversed on odd epochs
  flipflop_ss = 5,         ///< SS on even epochs, reversed on odd epochs
  flipflop_ig = 6,         ///< the base order on even epochs, reversed on odd epochs
  explicit_order = 7,      ///< user-given indices per (run, epoch, worker)
  syncshuf = 8,            ///< Yun-Rajput-Sra synchronized shuffling across M workers
};

constexpr int kNumOrderKinds = 9;

/** Everything that defines the orders of one call; shared by all runs. */
struct OrderSpec {
  OrderKind kind = OrderKind::random_reshuffling;
  std::uint32_t workers = 1;            ///< M
  std::uint32_t per_worker = 1;         ///< N, components per worker (indices are local to a worker)
  std::uint32_t count = 1;              ///< indices per worker and epoch (N, or fewer when a remainder is dropped)
  const std::uint32_t* base = nullptr;  ///< base order of length N for incremental/flipflop_ig (nullptr: identity)
  /// explicit orders, shape (explicit_runs, explicit_epochs, M, N); a leading extent of 1 is shared by all
  const std::int64_t* explicit_orders = nullptr;
  std::int64_t explicit_runs = 1, explicit_epochs = 1;
};

/** How the M workers combine (THEORY.md 4.3). */
enum class WorkerMode : int {
  minibatch = 0,  ///< one shared iterate; each step averages the B-batches of all M workers
  local = 1,      ///< each worker steps on its own copy; copies are averaged every sync_every local steps
};

/** The loop's structure, shared by all runs of a call. */
struct LoopSpec {
  OrderSpec order;                ///< order kind and worker layout
  std::int64_t epochs = 1;        ///< K
  std::uint32_t batch = 1;        ///< B, indices per worker and step
  WorkerMode mode = WorkerMode::minibatch;
  std::int64_t sync_every = 1;    ///< local mode: local steps between averages (and always at epoch end)
  std::int64_t record_every = 0;  ///< 0: record at epoch ends; k > 0: every k steps
  int threads = 1;
  StopToken* stop = nullptr;      ///< checked between chunks of work: a stop request ends the call (stop.hpp)

  std::int64_t steps_per_epoch() const { return (static_cast<std::int64_t>(order.count) + batch - 1) / batch; }
  std::int64_t total_steps() const { return steps_per_epoch() * epochs; }
  std::int64_t records() const { return record_every == 0 ? epochs + 1 : total_steps() / record_every + 1; }
};

/**
 * What a problem's own update (the engine's `update` hook, engine.hpp HasUpdate) is given besides the summed
 * gradient: the step size, how many component gradients were summed (so the plain step is x - (eta / count) g)
 * and the epoch (for per-epoch schedules such as BCGD's growing rho).
 */
template <class T>
struct UpdateStep {
  T eta = T(0);
  T count = T(1);
  std::int64_t epoch = 0;
  /** The plain step's coefficient, -eta / count (the engine's own x += c g). */
  T coef() const { return -eta / count; }
};

/** Per-run inputs and the in/out iterates; all arrays are caller-owned and row-major. */
template <class T>
struct RunArrays {
  std::int64_t runs = 0;
  std::int64_t dim = 0;
  const std::uint64_t* seeds = nullptr;    ///< (R,) Philox keys
  const std::uint32_t* run_ids = nullptr;  ///< (R,) stream ids
  T* x = nullptr;                          ///< (R, d) initial points in, final iterates out
  /// step size of run r in epoch k: step_table[r * step_run_stride + k * step_epoch_stride]. A stride of 0 shares
  /// the entry (one step size for every run, or for every epoch), so constant and per-run steps need no (R, K) table.
  const T* step_table = nullptr;
  std::int64_t step_run_stride = 0, step_epoch_stride = 0;
  const T* decay = nullptr;                ///< (R,) step = table / (1 + decay * t), t the global step index
};

/** What to record at each record point, into caller-owned arrays of shape (R, records[, d]). */
template <class T>
struct Recording {
  const T* x_star = nullptr;   ///< (d,) a minimizer, for gaps and distances
  const T* hessian = nullptr;  ///< (d, d) constant Hessian of F: gap = 1/2 e'He, free of cancellation
  bool has_f_star = false;
  T f_star = T(0);
  T* gap = nullptr;                  ///< F(x) - F*
  T* dist = nullptr;                 ///< |x - x*|
  T* objective = nullptr;            ///< F(x)
  T* iterates = nullptr;             ///< x itself, (R, records, d)
  T* accuracy = nullptr;             ///< classification accuracy (networks only)
  std::uint8_t* diverged = nullptr;  ///< (R,) set to 1 when a run's iterate stops being finite
};

/** The finite-sum problems of problems.hpp. */
enum class ProblemKind : int { least_squares, logistic, exponential, quadratic, lower_bound, mlp, huber, squared_hinge,
                               poisson };

/** A problem's caller-owned arrays and constants, whatever its kind (unused fields stay zero). */
template <class T>
struct ProblemData {
  ProblemKind kind = ProblemKind::least_squares;
  const T* A = nullptr;  ///< least squares, margin losses: (n, d); quadratic: (n, d, d)
  const T* b = nullptr;  ///< least squares: b (n,); margin losses: labels (n,); quadratic: (n, d); lower bound: z (n,)
  std::int64_t n = 0, d = 0;
  T l2 = T(0);                            ///< ridge term of least squares and the margin losses
  T L = T(0), mu = T(0), nu = T(0);       ///< lower-bound function constants
  T z_mean = T(0);                        ///< lower-bound function: mean of z
  T delta = T(0);                         ///< Huber regression: the threshold of the loss
  // networks (mlp.hpp): A = inputs X (n, d_0), b = targets Y
  const std::int64_t* widths = nullptr;   ///< (layers + 1,)
  int layers = 0;
  bool bias = true;
  int activation = 0, net_loss = 0;       ///< Activation and NetLoss codes
  T s_pos = T(1), s_neg = T(0);           ///< slopes of the two-slope activation
  T scale = T(1);                         ///< 1 for the mean reduction, n for the sum
  const std::int64_t* param_group = nullptr;  ///< structured networks: (d,) group per parameter, -1 = masked
  std::int64_t groups = 0;                    ///< number of tied groups (free parameters) of a structured network
  // quantized networks (activations.hpp, mlp_quant.hpp)
  T act_alpha = T(1), act_levels = T(1);      ///< quantized activation: resolution alpha, L = 2^bits - 1 levels
  int act_ste = 0;                            ///< its straight-through estimator (Ste code)
  int weight_quant = 0;                       ///< WeightQuant code; 0: full-precision weights (plain SGD)
  int weight_bits = 0;                        ///< bits of the WeightQuant::bits quantizer
  T rho = T(0);                               ///< BCGD blending weight of epoch 0, in [0, 1] (0: BinaryConnect)
  T rho_rate = T(1), rho_max = T(1);          ///< per-epoch growth rho <- min(rho_rate rho, rho_max) (mlp_quant.hpp)
  bool learn_alpha = false;                   ///< the activations' resolutions are trained (mlp_alpha.hpp)
  int alpha_grad = 2;                         ///< their AlphaGrad rule
  T rate_factor = T(0.01);                    ///< their gradient's factor before the clip to [-1, 1]
  const std::uint8_t* quant_layers = nullptr; ///< (layers,) 1 where a layer's weights are quantized
};

/** What a network evaluation outside the training loop computes (mlp_eval.hpp). */
enum class MlpEvalKind { forward, loss, grad, accuracy, per_example, hvp, hessian };

/** The R parameter vectors, the direction of a Hessian-vector product, and where each result goes. */
template <class T>
struct MlpEvalArgs {
  const T* theta = nullptr;  ///< (R, P) parameters
  std::int64_t runs = 0;     ///< R
  const T* v = nullptr;      ///< hvp: (R, P) directions
  T* out = nullptr;          ///< forward (R, n, k), loss (R,), per_example (R, n, P), hvp (R, P), hessian (R, P, P)
  T* accuracy = nullptr;     ///< loss, grad, accuracy: (R,), zero unless accuracy was asked for
  T* grad = nullptr;         ///< grad: (R, P); loss, grad and accuracy put the loss in `out` (zero for accuracy)
  int threads = 1;
  StopToken* stop = nullptr;
};

}  // namespace optcore
