/** @file mlp_alpha.hpp
 *  Quantized networks whose activation resolutions are learned, one alpha per hidden layer, as in the paper code
 *  of Yin et al. (2019; RELATED.md 3.2; penhunt/full-quantization-DNN nets/quant_uni_type.py).
 *
 *  The iterate is theta = (w, alpha_1, ..., alpha_H): the network's parameters (net.d entries, the layout of
 *  mlp.hpp) followed by the H = L - 1 resolutions. Every pass runs the network at (Q(w), alpha): quantized
 *  weights (QuantizedMLP) and hidden layer l's activation with resolution alpha_l. The gradient in alpha_l is
 *  sum over examples and units of (d loss / d a) (d sigma / d alpha), with the chosen rule for d sigma / d alpha
 *  (ActivationFn::alpha_first: 'ae', 'pact', 'mean'). The update (the engine's hook) is the weights' BCGD update
 *  and, for each alpha, the paper code's
 *      alpha <- clamp(alpha - eta clip(rate_factor g_alpha / count, -1, 1), 1e-3, 5)
 *  with g_alpha / count the batch mean's gradient (the code clamps alpha before each forward pass; clamping after
 *  the update keeps in the iterate the alpha that the next pass uses). Passes go one example at a time through
 *  MLP::forward / MLP::backward with the per-layer alphas.
 */
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "optcore/activations.hpp"
#include "optcore/config.hpp"
#include "optcore/isa.hpp"
#include "optcore/mlp.hpp"
#include "optcore/mlp_quant.hpp"
#include "optcore/types.hpp"

namespace optcore {
OPTCORE_ISA_BEGIN

/** The range the learned resolutions are kept in (the paper code's clamp). */
inline constexpr double kAlphaMin = 1e-3, kAlphaMax = 5.0;

template <class T>
struct LearnedAlphaMLP {
  static constexpr bool kFixedDimKernels = false;

  QuantizedMLP<T> quant;  ///< the network, its weight quantizer and the weights' BCGD update
  AlphaGrad rule;         ///< d sigma / d alpha
  T rate_factor;          ///< the alpha gradient's factor before the clip

  const MLP<T>& net() const { return quant.net; }
  int hidden() const { return quant.net.layers - 1; }
  const T* alphas(const T* theta) const { return theta + quant.net.d; }

  /** g += s (grad f_i in w, grad f_i in alpha) at (q, alpha), q the quantized weights. */
  void add_example(std::int64_t i, const T* q, const T* alpha, T* g, T s) const {
    const MLP<T>& m = net();
    typename MLP<T>::Scratch& sc = m.scratch();
    const T* out = m.forward(i, q, sc, alpha);
    m.loss_gradient(i, out, sc.delta.data() + sc.offsets[m.layers]);
    m.backward(q, sc, g, s * m.scale, alpha, g + m.d, rule);
  }

  // --- the engine's interface ------------------------------------------------------------------------------------
  void add_grad(std::int64_t i, const T* theta, T* g, T s) const {
    add_example(i, quant.quantized(theta), alphas(theta), g, s);
  }
  void add_grad_batch(const std::uint32_t* idx, std::int64_t count, std::int64_t base, const T* theta, T* g,
                      T s) const {
    const T* q = quant.quantized(theta);  // once per batch
    for (std::int64_t j = 0; j < count; ++j) add_example(base + idx[j], q, alphas(theta), g, s);
  }
  T objective(const T* theta) const {
    const MLP<T>& m = net();
    const T* q = quant.quantized(theta);
    typename MLP<T>::Scratch& sc = m.scratch();
    double total = 0;
    for (std::int64_t i = 0; i < m.n; ++i) total += m.example_loss(i, m.forward(i, q, sc, alphas(theta)));
    return static_cast<T>(total * static_cast<double>(m.scale) / static_cast<double>(m.n));
  }
  T accuracy(const T* theta) const {
    const MLP<T>& m = net();
    const T* q = quant.quantized(theta);
    typename MLP<T>::Scratch& sc = m.scratch();
    std::int64_t right = 0;
    for (std::int64_t i = 0; i < m.n; ++i) right += m.classified(i, m.forward(i, q, sc, alphas(theta)));
    return static_cast<T>(right) / static_cast<T>(m.n);
  }
  /** objective() and accuracy() from one forward pass per example (the same outputs, so the same bits). */
  void objective_and_accuracy(const T* theta, T* objective, T* accuracy) const {
    const MLP<T>& m = net();
    const T* q = quant.quantized(theta);
    typename MLP<T>::Scratch& sc = m.scratch();
    double total = 0;
    std::int64_t right = 0;
    for (std::int64_t i = 0; i < m.n; ++i) {
      const T* out = m.forward(i, q, sc, alphas(theta));
      total += m.example_loss(i, out);
      right += m.classified(i, out);
    }
    *objective = static_cast<T>(total * static_cast<double>(m.scale) / static_cast<double>(m.n));
    *accuracy = static_cast<T>(right) / static_cast<T>(m.n);
  }

  /** The weights' BCGD update (QuantizedMLP::update), then each alpha's clipped and clamped step. */
  void update(T* theta, const T* grad, const UpdateStep<T>& step) const {
    quant.update(theta, grad, step);
    const std::int64_t d = net().d;
    for (int h = 0; h < hidden(); ++h) {  // clip and clamp written so that a NaN passes through (divergence)
      T g = rate_factor * (grad[d + h] / step.count);
      if (g > T(1)) g = T(1);
      if (g < T(-1)) g = T(-1);
      T a = theta[d + h] - step.eta * g;
      if (a > T(kAlphaMax)) a = T(kAlphaMax);
      if (a < T(kAlphaMin)) a = T(kAlphaMin);
      theta[d + h] = a;
    }
  }
};

OPTCORE_ISA_END
}  // namespace optcore
