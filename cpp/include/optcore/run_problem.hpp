/** @file run_problem.hpp
 *  From a problem's plain data to the batched loop: builds the problem view of its kind and runs all R runs.
 *  This is the entry point each instruction-set copy of the loops exposes (isa.hpp).
 */
#pragma once

#include "optcore/config.hpp"
#include "optcore/engine.hpp"
#include "optcore/isa.hpp"
#include "optcore/mlp.hpp"
#include "optcore/mlp_alpha.hpp"
#include "optcore/mlp_lanes.hpp"
#include "optcore/mlp_quant.hpp"
#include "optcore/problems.hpp"
#include "optcore/types.hpp"

namespace optcore {
OPTCORE_ISA_BEGIN

/** The network view of `data` (kind mlp). */
template <class T>
MLP<T> make_mlp(const ProblemData<T>& data) {
  return MLP<T>{data.widths, data.layers, data.bias,
                ActivationFn<T>{static_cast<Activation>(data.activation), data.s_pos, data.s_neg, data.act_alpha,
                                data.act_levels, static_cast<Ste>(data.act_ste)},
                static_cast<NetLoss>(data.net_loss), data.A, data.b, data.n, data.scale, data.d,
                data.param_group, data.groups};
}

/** The quantized-weights view of `data` (kind mlp with a weight quantizer; mlp_quant.hpp). */
template <class T>
QuantizedMLP<T> make_quantized_mlp(const ProblemData<T>& data) {
  return QuantizedMLP<T>{make_mlp(data), static_cast<WeightQuant>(data.weight_quant), data.weight_bits, data.rho,
                         data.quant_layers, data.rho_rate, data.rho_max};
}

/** Runs the loop on the problem described by `data`; the caller has checked every array's shape. */
template <class T>
void run_problem(const ProblemData<T>& data, const LoopSpec& spec, const RunArrays<T>& runs, const Recording<T>& rec) {
  switch (data.kind) {
    case ProblemKind::least_squares:
      run_sgd<T>(LeastSquares<T>{data.A, data.b, data.n, data.d, data.l2}, spec, runs, rec);
      return;
    case ProblemKind::logistic:
      run_sgd<T>(Logistic<T>{data.A, data.b, data.n, data.d, data.l2}, spec, runs, rec);
      return;
    case ProblemKind::exponential:
      run_sgd<T>(Exponential<T>{data.A, data.b, data.n, data.d, data.l2}, spec, runs, rec);
      return;
    case ProblemKind::quadratic:
      run_sgd<T>(Quadratic<T>{data.A, data.b, data.n, data.d}, spec, runs, rec);
      return;
    case ProblemKind::lower_bound:
      OPTCORE_CHECK(data.d == 1, "the lower-bound function is 1-D, got dim " << data.d);
      run_sgd<T>(LowerBound1D<T>{data.b, data.n, data.L, data.mu, data.nu, data.z_mean}, spec, runs, rec);
      return;
    case ProblemKind::mlp:
      if (data.learn_alpha) {  // ... and learned activation resolutions (mlp_alpha.hpp)
        OPTCORE_CHECK(data.weight_quant != 0, "learned resolutions are trained with a weight quantizer");
        run_sgd<T>(LearnedAlphaMLP<T>{make_quantized_mlp(data), static_cast<AlphaGrad>(data.alpha_grad),
                                      data.rate_factor},
                   spec, runs, rec);
        return;
      }
      if (data.weight_quant != 0) {  // quantized weights: coarse gradients at Q(w), BCGD updates (mlp_quant.hpp)
        run_sgd<T>(make_quantized_mlp(data), spec, runs, rec);
        return;
      }
      run_sgd<T>(make_mlp(data), spec, runs, rec);
      return;
    case ProblemKind::huber:
      run_sgd<T>(HuberRegression<T>{data.A, data.b, data.n, data.d, data.l2, data.delta}, spec, runs, rec);
      return;
    case ProblemKind::squared_hinge:
      run_sgd<T>(SquaredHinge<T>{data.A, data.b, data.n, data.d, data.l2, T(0)}, spec, runs, rec);
      return;
    case ProblemKind::poisson:
      run_sgd<T>(PoissonRegression<T>{data.A, data.b, data.n, data.d, data.l2, T(0)}, spec, runs, rec);
      return;
  }
  OPTCORE_CHECK(false, "unknown problem kind " << static_cast<int>(data.kind));
}

OPTCORE_ISA_END
}  // namespace optcore
