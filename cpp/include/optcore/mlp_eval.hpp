/** @file mlp_eval.hpp
 *  Networks outside the training loop: outputs, losses, gradients, per-example gradients, Hessian-vector products
 *  and dense Hessians of R networks (optcore.nn through cpp/bindings/bind_nn.cpp).
 *
 *  Plain arrays in and out, no Python: like run_problem.hpp, this is an entry point every instruction-set copy of
 *  the loops compiles (isa.hpp), so MLP.loss_and_grad runs the same vector code as the gradient inside run_sgd.
 */
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "optcore/config.hpp"
#include "optcore/isa.hpp"
#include "optcore/mlp.hpp"
#include "optcore/mlp_gemm.hpp"
#include "optcore/run_problem.hpp"
#include "optcore/stop.hpp"
#include "optcore/types.hpp"

namespace optcore {

OPTCORE_ISA_BEGIN

namespace mlp_eval_detail {

/// Examples between two stop checks in the per-example passes (each example is a pass through the network).
constexpr std::int64_t kExamplesPerCheck = 256;

}  // namespace mlp_eval_detail

/** Evaluates the network `data` (kind mlp; the caller has checked every array) at R parameter vectors. */
template <class T>
void mlp_eval(const ProblemData<T>& data, MlpEvalKind what, const MlpEvalArgs<T>& a) {
  using mlp_eval_detail::kExamplesPerCheck;
  const MLP<T> net = make_mlp(data);
  const std::int64_t R = a.runs, P = data.d, n = data.n, k = net.out_dim();
  const T* theta = a.theta;
  StopToken* stop = a.stop;
  switch (what) {
    case MlpEvalKind::forward: {
      T* o = a.out;
      detail::parallel_chunks(R, a.threads, [&](std::int64_t lo, std::int64_t hi) {
        if (mlp_gemm::pays(net)) {  // wide layers: blocks of examples as matrix products (mlp_gemm.hpp)
          for (std::int64_t r = lo; r < hi; ++r) checkpoint(stop), mlp_gemm::outputs(net, theta + r * P, o + r * n * k);
          return;
        }
        typename MLP<T>::Scratch& sc = net.scratch();
        for (std::int64_t r = lo; r < hi; ++r)
          for (std::int64_t i = 0; i < n; ++i) {
            if (i % kExamplesPerCheck == 0) checkpoint(stop);
            std::copy_n(net.forward(i, theta + r * P, sc), k, o + (r * n + i) * k);
          }
      }, stop);
      return;
    }
    case MlpEvalKind::loss:
    case MlpEvalKind::grad:
    case MlpEvalKind::accuracy: {
      std::vector<std::uint32_t> all;
      if (what == MlpEvalKind::grad) {
        all.resize(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) all[i] = static_cast<std::uint32_t>(i);
      }
      detail::parallel_chunks(R, a.threads, [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t r = lo; r < hi; ++r) {  // each pass only where asked for
          checkpoint(stop);
          a.accuracy[r] = what == MlpEvalKind::accuracy ? net.accuracy(theta + r * P) : T(0);
          if (what != MlpEvalKind::grad) {
            a.out[r] = what == MlpEvalKind::loss ? net.objective(theta + r * P) : T(0);
            continue;
          }
          T* g = a.grad + r * P;
          std::fill_n(g, P, T(0));
          // the objective from the gradient's own forward pass where that gives objective()'s bits (mlp.hpp),
          // so that loss_and_grad costs what a full-batch step of run_sgd costs; else a pass of its own
          const T inv_n = T(1) / static_cast<T>(n);
          T objective = T(0);
          bool fused = false;
          if (net.batch_objective_matches())  // adds the gradient either way
            fused = net.add_grad_batch_objective(all.data(), n, theta + r * P, g, inv_n, &objective);
          else
            net.add_grad_batch(all.data(), n, 0, theta + r * P, g, inv_n);
          a.out[r] = fused ? objective : net.objective(theta + r * P);
        }
      }, stop);
      return;
    }
    case MlpEvalKind::per_example: {
      detail::parallel_chunks(R, a.threads, [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t r = lo; r < hi; ++r)
          for (std::int64_t i = 0; i < n; ++i) {
            if (i % kExamplesPerCheck == 0) checkpoint(stop);
            T* gi = a.out + (r * n + i) * P;
            std::fill_n(gi, P, T(0));
            net.add_grad(i, theta + r * P, gi, T(1));  // gradient of f_i = scale * loss_i
          }
      }, stop);
      return;
    }
    case MlpEvalKind::hvp:
    case MlpEvalKind::hessian: {
      const bool dense = what == MlpEvalKind::hessian;
      T* h = a.out;
      detail::parallel_chunks(R, a.threads, [&](std::int64_t lo, std::int64_t hi) {
        std::vector<T> e(static_cast<std::size_t>(P)), projected_dir, raw_hv;
        if (net.group) projected_dir.resize(static_cast<std::size_t>(P)), raw_hv.resize(static_cast<std::size_t>(P));
        for (std::int64_t r = lo; r < hi; ++r) {
          const std::int64_t columns = dense ? P : 1;
          for (std::int64_t c = 0; c < columns; ++c) {
            const T* dir = a.v ? a.v + r * P : nullptr;
            if (dense) {
              std::fill(e.begin(), e.end(), T(0));
              e[c] = T(1);
              dir = e.data();
            }
            T* hv = dense ? h + (r * P + c) * P : h + r * P;
            std::fill_n(hv, P, T(0));
            if (net.group) {  // structured network: P H P v, the Hessian of its free parameters (mlp.hpp)
              std::fill(projected_dir.begin(), projected_dir.end(), T(0));
              std::fill(raw_hv.begin(), raw_hv.end(), T(0));
              net.add_projected(dir, projected_dir.data(), T(1));
              for (std::int64_t i = 0; i < n; ++i) {
                if (i % kExamplesPerCheck == 0) checkpoint(stop);
                net.add_hvp(i, theta + r * P, projected_dir.data(), raw_hv.data(), T(1) / static_cast<T>(n));
              }
              net.add_projected(raw_hv.data(), hv, T(1));
              continue;
            }
            for (std::int64_t i = 0; i < n; ++i) {
              if (i % kExamplesPerCheck == 0) checkpoint(stop);
              net.add_hvp(i, theta + r * P, dir, hv, T(1) / static_cast<T>(n));
            }
          }
        }
      }, stop);
      return;
    }
  }
  OPTCORE_CHECK(false, "unknown network evaluation " << static_cast<int>(what));
}

OPTCORE_ISA_END
}  // namespace optcore
